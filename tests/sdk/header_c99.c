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
MESH_C_ASSERT(host_size, sizeof(mesh_host) == 104);
MESH_C_ASSERT(descriptor_size, sizeof(mesh_plugin_descriptor) == 64);
#endif

/* A C plugin's handler shape, to make sure the typedefs are usable from C. */
static void on_http(void* user, const mesh_http_request* request) {
  (void)user;
  (void)request;
}

int mesh_sdk_c99_probe(const mesh_host* host);
int mesh_sdk_c99_probe(const mesh_host* host) {
  mesh_http_handler h = on_http;
  (void)h;
  return host && MESH_HAS_FIELD(host, mesh_host, cli_chunk) ? MESH_OK : MESH_E_UNSUPPORTED;
}
