// The example runner's own unit test, on the SDK's FakeHost: no daemon needed.
#include <dlfcn.h>

#include <cassert>
#include <cstdio>

#include "mesh/fake_host.hpp"

int main() {
  void* lib = ::dlopen(NICE_SO, RTLD_NOW | RTLD_LOCAL);
  if (!lib) return std::fprintf(stderr, "dlopen: %s\n", ::dlerror()), 1;
  auto entry = reinterpret_cast<mesh_plugin_entry_fn>(::dlsym(lib, MESH_PLUGIN_ENTRY_SYMBOL));
  mesh::sdk::testing::FakeHost host;
  if (host.load(entry) != MESH_OK) return std::fprintf(stderr, "%s\n", host.error().c_str()), 1;
  mesh::sdk::testing::FakeJob job;
  job.commands = {"echo \"prio $(nice)\"", "test \"$GREETING\" = hi"};
  job.env = {{"PATH", "/usr/bin:/bin"}, {"GREETING", "hi"}};
  auto r = host.run_job("nice", job);
  std::printf("%s", r.log.c_str());
  if (r.outcome != MESH_JOB_PASSED || r.log.find("prio 19") == std::string::npos) {
    std::fprintf(stderr, "unexpected: outcome %u, reason %s\n", r.outcome, r.reason.c_str());
    return 1;
  }
  job.commands = {"exit 4"};
  r = host.run_job("nice", job);
  if (r.outcome != MESH_JOB_FAILED || r.exit_code != 4) return std::fprintf(stderr, "exit 4?\n"), 1;
  std::printf("nice runner: ok\n");
  return 0;
}
