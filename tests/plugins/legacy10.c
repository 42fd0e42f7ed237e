/* legacy-10: a plugin built against the frozen ABI 1.0 header (tests/plugins/abi-1.0), as a
   plugin compiled before 1.1 existed. It must load and work on a 1.1 host, which hands it a
   longer host table than it knows about.
     mesh legacy   answers "legacy 1.0 on host <major>.<minor>" */
#include <stdio.h>

#include "mesh/plugin.h"

#if MESH_ABI_MAJOR != 1 || MESH_ABI_MINOR != 0
#error "legacy10.c must be built against the frozen ABI 1.0 header"
#endif

typedef struct legacy {
  const mesh_host* host;
} legacy;

static legacy the_instance;

static void on_verb(void* user, const mesh_cli_request* request) {
  legacy* self = (legacy*)user;
  char out[64];
  int n = snprintf(out, sizeof out, "legacy 1.0 on host %u.%u\n", (unsigned)self->host->abi_major,
                   (unsigned)self->host->abi_minor);
  mesh_str text = {out, n > 0 ? (size_t)n : 0};
  self->host->cli_respond(self->host->ctx, request->call_id, 0, text);
}

static int32_t create(const mesh_host* host, void** instance, char* err, size_t err_cap) {
  if (!host || !MESH_HAS_FIELD(host, mesh_host, cli_chunk)) {
    snprintf(err, err_cap, "host table too small");
    return MESH_E_UNSUPPORTED;
  }
  the_instance.host = host;
  *instance = &the_instance;
  return MESH_OK;
}

static int32_t start(void* instance, char* err, size_t err_cap) {
  legacy* self = (legacy*)instance;
  static const char verb[] = "legacy";
  static const char summary[] = "answers from a plugin built for ABI 1.0 (test plugin)";
  mesh_str v = {verb, sizeof verb - 1};
  mesh_str s = {summary, sizeof summary - 1};
  return self->host->cli_verb(self->host->ctx, v, s, on_verb, self, err, err_cap);
}

static void stop(void* instance) {
  (void)instance;
}
static void destroy(void* instance) {
  (void)instance;
}

static const mesh_plugin_descriptor descriptor = {sizeof(mesh_plugin_descriptor),
                                                  MESH_ABI_MAJOR,
                                                  MESH_ABI_MINOR,
                                                  "legacy-10",
                                                  "1.0.0",
                                                  create,
                                                  start,
                                                  stop,
                                                  destroy};

const mesh_plugin_descriptor* mesh_plugin_entry(uint32_t major, uint32_t minor) {
  (void)major;
  (void)minor;
  return &descriptor;
}
