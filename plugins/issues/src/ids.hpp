// Full ids. Every stored event on topic `issues` has one: 32 hex digits of BLAKE2b-128 over its
// (origin, seq). A create's id is the issue's id; a comment's id is its comment id; an add's id
// is its tag in the observed-remove sets. Nobody chooses them, so they never collide.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mesh::issues {

// BLAKE2b-128("mesh-issues-op-v1\0" || origin || u64 big-endian seq), lower-case hex.
std::string op_id(std::string_view origin, std::uint64_t seq);

}  // namespace mesh::issues
