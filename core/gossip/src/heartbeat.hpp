// The heartbeat's payload: name, load, links, capabilities and the plugins' values, cut to fit
// one event (docs/protocol.md, "Heartbeat" under the link protocol).
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "mesh/gossip/engine.hpp"

namespace mesh::gossip {

// `linked`: the short ids of the members this node has a link to (listed as "linked", and
// counted as "links").
std::string heartbeat_payload(const EngineOptions& options, const std::vector<std::string>& linked);

// The "linked" short ids of a heartbeat payload (at most 1024; empty if absent or malformed).
std::set<std::string> heartbeat_linked(std::span<const std::uint8_t> payload);

}  // namespace mesh::gossip
