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
MESH_C_ASSERT(host_size, sizeof(mesh_host) == 144);
MESH_C_ASSERT(host_cli_chunk, offsetof(mesh_host, cli_chunk) == 96);
MESH_C_ASSERT(host_publish, offsetof(mesh_host, publish) == 104);
MESH_C_ASSERT(host_self_json, offsetof(mesh_host, self_json) == 136);
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
