/* The deliberately broken test plugins, one per BROKEN_* definition, written against the C ABI.
   Each must be refused by the host with a clear message while the daemon carries on. */
#include <stdio.h>

#include "mesh/plugin.h"

#ifndef BROKEN_ID
#error "BROKEN_ID is required"
#endif
#ifndef BROKEN_MINOR
#ifdef BROKEN_MAJOR
#define BROKEN_MINOR 0 /* another major: "2.0", whatever this SDK's minor is */
#else
#define BROKEN_MINOR MESH_ABI_MINOR
#endif
#endif
#ifndef BROKEN_MAJOR
#define BROKEN_MAJOR MESH_ABI_MAJOR
#endif

static int32_t create(const mesh_host* host, void** instance, char* err, size_t err_cap) {
  (void)host;
#ifdef BROKEN_CREATE_FAILS
  *instance = NULL;
  snprintf(err, err_cap, "missing required setting 'token'");
  return MESH_E_INVALID;
#else
  static int instance_token;
  (void)err;
  (void)err_cap;
  *instance = &instance_token;
  return MESH_OK;
#endif
}

static int32_t start(void* instance, char* err, size_t err_cap) {
  (void)instance;
  (void)err;
  (void)err_cap;
  return MESH_OK;
}

static void stop(void* instance) {
  (void)instance;
}
static void destroy(void* instance) {
  (void)instance;
}

static const mesh_plugin_descriptor descriptor = {sizeof(mesh_plugin_descriptor),
                                                  BROKEN_MAJOR,
                                                  BROKEN_MINOR,
                                                  BROKEN_ID,
                                                  "0.0.1",
                                                  create,
                                                  start,
                                                  stop,
                                                  destroy,
                                                  NULL};

#ifdef BROKEN_NO_ENTRY
/* Exports a misspelt entry point: the host must not find mesh_plugin_entry. */
MESH_PLUGIN_EXPORT const mesh_plugin_descriptor* mesh_plugin_entri(uint32_t major, uint32_t minor);
MESH_PLUGIN_EXPORT const mesh_plugin_descriptor* mesh_plugin_entri(uint32_t major, uint32_t minor) {
  (void)major;
  (void)minor;
  return &descriptor;
}
#else
const mesh_plugin_descriptor* mesh_plugin_entry(uint32_t major, uint32_t minor) {
  (void)major;
  (void)minor;
  return &descriptor;
}
#endif
