// The heartbeat's payload: name, load, links, capabilities and the plugins' values, cut to fit
// one event (docs/protocol.md, "Heartbeat" under the link protocol).
#pragma once

#include <cstddef>
#include <string>

#include "mesh/gossip/engine.hpp"

namespace mesh::gossip {

std::string heartbeat_payload(const EngineOptions& options, std::size_t links);

}  // namespace mesh::gossip
