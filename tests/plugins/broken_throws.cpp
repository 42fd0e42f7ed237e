// broken-throws: a C++ plugin written against plugin.h directly, without the helper's barrier.
// Its create() lets an exception escape, which the ABI forbids; the host must survive it.
#include <stdexcept>

#include "mesh/plugin.h"

namespace {

int32_t create(const mesh_host*, void**, char*, size_t) {
  throw std::runtime_error("kaboom from create");
}
int32_t start(void*, char*, size_t) {
  return MESH_OK;
}
void stop(void*) {}
void destroy(void*) {}

const mesh_plugin_descriptor descriptor = {sizeof(mesh_plugin_descriptor),
                                           MESH_ABI_MAJOR,
                                           MESH_ABI_MINOR,
                                           "broken-throws",
                                           "0.0.1",
                                           create,
                                           start,
                                           stop,
                                           destroy,
                                           nullptr};

}  // namespace

extern "C" const mesh_plugin_descriptor* mesh_plugin_entry(uint32_t, uint32_t) {
  return &descriptor;
}
