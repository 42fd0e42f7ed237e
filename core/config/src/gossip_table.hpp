// [gossip] of mesh.toml: the per-origin and per-peer gossip limits.
#pragma once

#include <toml++/toml.h>

#include <string_view>

#include "mesh/config/config.hpp"

namespace mesh::config {

// Errors as "<source>:<line>: gossip.<key>: <what>", like every other table.
Status parse_gossip_table(const toml::node& node, std::string_view source, GossipConfig& out);

}  // namespace mesh::config
