/* mesh/plugin.h must compile as strict C99 (-std=c99 -pedantic -Wall -Wextra -Werror), and its
   struct layouts are pinned here too (C99 has no _Static_assert: a negative array size fails). */
#include "mesh/plugin.h"

#define MESH_C_ASSERT(name, cond) typedef char mesh_assert_##name[(cond) ? 1 : -1]

#if defined(__x86_64__) && defined(__LP64__)
MESH_C_ASSERT(str_size, sizeof(mesh_str) == 16);
MESH_C_ASSERT(header_size, sizeof(mesh_http_header) == 32);
MESH_C_ASSERT(request_size, sizeof(mesh_http_request) == 152);
MESH_C_ASSERT(request_params, offsetof(mesh_http_request, params) == 136);
MESH_C_ASSERT(request_tls, offsetof(mesh_http_request, tls) == 128);
MESH_C_ASSERT(response_size, sizeof(mesh_http_response) == 40);
MESH_C_ASSERT(cli_size, sizeof(mesh_cli_request) == 32);
MESH_C_ASSERT(event_size, sizeof(mesh_event) == 80);
MESH_C_ASSERT(event_seq, offsetof(mesh_event, seq) == 24);
MESH_C_ASSERT(event_payload, offsetof(mesh_event, payload) == 64);
MESH_C_ASSERT(host_size, sizeof(mesh_host) == 344);
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
MESH_C_ASSERT(host_repos_dir, offsetof(mesh_host, repos_dir) == 224);
MESH_C_ASSERT(host_ui_render, offsetof(mesh_host, ui_render) == 240);
MESH_C_ASSERT(host_sse_publish, offsetof(mesh_host, sse_publish) == 280);
MESH_C_ASSERT(host_runner_register, offsetof(mesh_host, runner_register) == 288);
MESH_C_ASSERT(host_job_cancel, offsetof(mesh_host, job_cancel) == 336);
MESH_C_ASSERT(job_size, sizeof(mesh_job) == 184);
MESH_C_ASSERT(runner_size, sizeof(mesh_runner) == 88);
MESH_C_ASSERT(ui_page_size, sizeof(mesh_ui_page) == 88);
MESH_C_ASSERT(status_size, sizeof(mesh_status) == 56);
MESH_C_ASSERT(descriptor_size, sizeof(mesh_plugin_descriptor) == 72);
MESH_C_ASSERT(descriptor_destroy, offsetof(mesh_plugin_descriptor, destroy) == 56);
MESH_C_ASSERT(descriptor_check_config, offsetof(mesh_plugin_descriptor, check_config) == 64);
#endif

/* ABI 1.3: a settings check written in C, and a descriptor that offers it. */
static int32_t check_settings(const char* json, size_t len, char* err, size_t err_cap) {
  if (len == 2 && json[0] == '{' && json[1] == '}') return MESH_OK;
  if (err && err_cap) err[0] = '\0';
  return MESH_E_INVALID;
}
static int32_t c99_create(const mesh_host* host, void** instance, char* err, size_t err_cap) {
  (void)host;
  (void)err;
  (void)err_cap;
  *instance = NULL;
  return MESH_OK;
}
static int32_t c99_start(void* instance, char* err, size_t err_cap) {
  (void)instance;
  (void)err;
  (void)err_cap;
  return MESH_OK;
}
static void c99_stop(void* instance) {
  (void)instance;
}
const mesh_plugin_descriptor mesh_sdk_c99_descriptor;
const mesh_plugin_descriptor mesh_sdk_c99_descriptor = {sizeof(mesh_plugin_descriptor),
                                                        MESH_ABI_MAJOR,
                                                        MESH_ABI_MINOR,
                                                        "c99",
                                                        "1.0.0",
                                                        c99_create,
                                                        c99_start,
                                                        c99_stop,
                                                        c99_stop,
                                                        check_settings};

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
