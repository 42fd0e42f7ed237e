/* mesh/plugin.h must compile as strict C99 (-std=c99 -pedantic -Wall -Wextra -Werror), and its
   struct layouts are pinned here too (C99 has no _Static_assert: a negative array size fails). */
#include "mesh/plugin.h"

#define MESH_C_ASSERT(name, cond) typedef char mesh_assert_##name[(cond) ? 1 : -1]

#if defined(__x86_64__) && defined(__LP64__)
MESH_C_ASSERT(str_size, sizeof(mesh_str) == 16);
MESH_C_ASSERT(header_size, sizeof(mesh_http_header) == 32);
MESH_C_ASSERT(request_size, sizeof(mesh_http_request) == 136);
MESH_C_ASSERT(request_tls, offsetof(mesh_http_request, tls) == 128);
MESH_C_ASSERT(response_size, sizeof(mesh_http_response) == 40);
MESH_C_ASSERT(cli_size, sizeof(mesh_cli_request) == 32);
MESH_C_ASSERT(event_size, sizeof(mesh_event) == 80);
MESH_C_ASSERT(event_seq, offsetof(mesh_event, seq) == 24);
MESH_C_ASSERT(event_payload, offsetof(mesh_event, payload) == 64);
MESH_C_ASSERT(host_size, sizeof(mesh_host) == 224);
MESH_C_ASSERT(host_cli_chunk, offsetof(mesh_host, cli_chunk) == 96);
MESH_C_ASSERT(host_publish, offsetof(mesh_host, publish) == 104);
MESH_C_ASSERT(host_self_json, offsetof(mesh_host, self_json) == 136);
MESH_C_ASSERT(host_http_route2, offsetof(mesh_host, http_route2) == 144);
MESH_C_ASSERT(host_http_read, offsetof(mesh_host, http_read) == 152);
MESH_C_ASSERT(host_http_begin, offsetof(mesh_host, http_begin) == 160);
MESH_C_ASSERT(host_http_write, offsetof(mesh_host, http_write) == 168);
MESH_C_ASSERT(host_http_end, offsetof(mesh_host, http_end) == 176);
MESH_C_ASSERT(host_peer_connect, offsetof(mesh_host, peer_connect) == 184);
MESH_C_ASSERT(host_peer_read, offsetof(mesh_host, peer_read) == 192);
MESH_C_ASSERT(host_peer_write, offsetof(mesh_host, peer_write) == 200);
MESH_C_ASSERT(host_peer_close, offsetof(mesh_host, peer_close) == 208);
MESH_C_ASSERT(host_heartbeat_set, offsetof(mesh_host, heartbeat_set) == 216);
MESH_C_ASSERT(descriptor_size, sizeof(mesh_plugin_descriptor) == 64);
#endif

/* A C plugin's handler shape, to make sure the typedefs are usable from C. */
static void on_http(void* user, const mesh_http_request* request) {
  (void)user;
  (void)request;
}

/* ABI 1.1: an event handler written in C. */
static int32_t on_event(void* user, const mesh_event* ev) {
  (void)user;
  if (!MESH_HAS_FIELD(ev, mesh_event, payload)) return MESH_E_UNSUPPORTED;
  return (ev->flags & MESH_EVENT_EPHEMERAL) || ev->seq > 0 ? MESH_OK : MESH_E_INVALID;
}

/* ABI 1.2: a streamed handler in C hands the call to a thread of its own; here the probe
   below drives the functions directly to check that every signature is usable from C. */
static void on_stream(void* user, const mesh_http_request* request) {
  (void)user;
  (void)request;
}

/* Echoes one streamed call and talks to a member; returns the first failure. */
int mesh_sdk_c99_probe_12(const mesh_host* host, uint64_t call_id);
int mesh_sdk_c99_probe_12(const mesh_host* host, uint64_t call_id) {
  mesh_str method = {"POST", 4};
  mesh_str path = {"/c99", 4};
  mesh_str addr = {"127.0.0.1:7979", 14};
  mesh_str any = {NULL, 0};
  mesh_str beat = {"{\"ok\":true}", 11};
  mesh_http_header ct;
  char buf[4096];
  char err[MESH_ERR_CAP];
  size_t got = 0;
  uint64_t conn = 0;
  int32_t rc;
  ct.name.ptr = "Content-Type";
  ct.name.len = 12;
  ct.value.ptr = "application/octet-stream";
  ct.value.len = 24;
  if (!host || !MESH_HAS_FIELD(host, mesh_host, heartbeat_set)) return MESH_E_UNSUPPORTED;
  rc = host->http_route2(host->ctx, method, path, 1u << 20, MESH_ROUTE_STREAM | MESH_ROUTE_LOCAL,
                         on_stream, NULL, err, sizeof err);
  if (rc != MESH_OK) return rc;
  rc = host->http_begin(host->ctx, call_id, 200, &ct, 1);
  while (rc == MESH_OK &&
         (rc = host->http_read(host->ctx, call_id, buf, sizeof buf, &got)) == MESH_OK && got > 0) {
    mesh_str data;
    data.ptr = buf;
    data.len = got;
    rc = host->http_write(host->ctx, call_id, data);
  }
  host->http_end(host->ctx, call_id, rc == MESH_OK ? 1u : 0u);
  if (rc != MESH_OK) return rc;
  rc = host->peer_connect(host->ctx, addr, any, 0, &conn, err, sizeof err);
  if (rc != MESH_OK) return rc;
  rc = host->peer_write(host->ctx, conn, addr);
  if (rc == MESH_OK) rc = host->peer_read(host->ctx, conn, buf, sizeof buf, &got);
  host->peer_close(host->ctx, conn);
  if (rc != MESH_OK) return rc;
  return host->heartbeat_set(host->ctx, beat);
}

int mesh_sdk_c99_probe(const mesh_host* host);
int mesh_sdk_c99_probe(const mesh_host* host) {
  mesh_http_handler h = on_http;
  mesh_event_handler e = on_event;
  mesh_str topic = {"test.c99", 8};
  mesh_str payload = {"x", 1};
  uint64_t seq = 0;
  char err[MESH_ERR_CAP];
  (void)h;
  if (!host || !MESH_HAS_FIELD(host, mesh_host, cli_chunk)) return MESH_E_UNSUPPORTED;
  /* A 1.1 plugin checks for the 1.1 functions before calling them (a 1.0 host lacks them). */
  if (!MESH_HAS_FIELD(host, mesh_host, self_json) || !host->publish || !host->subscribe)
    return MESH_E_UNSUPPORTED;
  if (host->subscribe(host->ctx, topic, topic, e, NULL, err, sizeof err) != MESH_OK)
    return MESH_E_INTERNAL;
  return host->publish(host->ctx, topic, payload, &seq, err, sizeof err);
}
