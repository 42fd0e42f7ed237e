// The part of replication's `refs` event (docs/protocol.md, "Replication events") that starts
// runs: the repo, the push's replication clock (which the push note names) and its ref
// updates. Remove/restore ops, deletions and drops (old = new) start nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace mesh::ci {

struct PushedRef {
  std::string ref;
  std::string old_sha;  // 40 zeros: created
  std::string new_sha;
};

struct RefsPush {
  std::string repo;
  std::uint64_t clock = 0;
  std::vector<PushedRef> updates;  // only the ones that point a ref at a new commit
};

// Validates names and oids; an op event (remove, restore) gives an empty push.
Result<RefsPush> decode_refs_push(std::string_view payload);

}  // namespace mesh::ci
