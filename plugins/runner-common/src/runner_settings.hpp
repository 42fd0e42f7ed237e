// The settings every bundled runner takes in its [plugins.<id>] table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mesh::runner {

struct RunnerSettings {
  std::string name;                 // the runner's name on this node
  std::uint32_t slots = 2;          // jobs at once
  std::vector<std::string> labels;  // offered labels, e.g. "linux", "fast-disk"
  // runner-docker only:
  std::string docker = "docker";  // the docker CLI (a name on PATH or an absolute path)
  std::string network;            // docker run --network (empty: the engine's default)
  std::string pull = "missing";   // docker run --pull: missing | never | always
};

// Parses the plugin's settings JSON (unknown keys are errors, naming the key). `docker_keys`
// allows the docker-only keys. Throws std::invalid_argument with "<key>: why".
RunnerSettings parse_runner_settings(std::string_view json, std::string default_name,
                                     bool docker_keys);

}  // namespace mesh::runner
