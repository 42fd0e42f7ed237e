// Derived identifiers. A run's id is a hash of what started it, so every node that would start
// "the same" run computes the same id and a second run.created for it is recognisably a
// duplicate (docs/ci.md, "Run ids"). Cron slots are elected by hash too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mesh::ci {

// What started a run, as it enters the run id. One push of a sha to a ref is one run; a
// manual run is unique per request; a cron slot is one run across the mesh.
std::string trigger_key_push();
std::string trigger_key_manual(std::string_view node_id, std::uint64_t request_ms,
                               std::string_view nonce);
std::string trigger_key_schedule(std::string_view slot_id);

// hex(SHA-256("mesh-ci-run-v1\0" repo \0 ref \0 sha \0 trigger_key)): 64 hex digits.
std::string run_id(std::string_view repo, std::string_view ref, std::string_view sha,
                   std::string_view trigger_key);
// The first 12 hex digits, as shown in tables and `git push` output.
std::string short_run_id(std::string_view id);
// A prefix of 4..64 hex digits that picks a run (`mesh ci logs my-app 3f2a`).
bool valid_run_prefix(std::string_view prefix);

struct SlotKey {
  std::string repo;
  std::string branch;
  std::string pipeline;
  std::string job;        // empty: the whole pipeline
  std::int64_t at_s = 0;  // the slot, Unix seconds (UTC, minute-aligned)
};
// hex(SHA-256("mesh-ci-slot-v1\0" repo \0 branch \0 pipeline \0 job \0 at_s)).
std::string slot_id(const SlotKey& key);

// The node that runs a cron slot: the lowest SHA-256(slot_id \0 node id) among the candidates
// (the up members with an eligible runner). Empty if there are none. Every node that sees the
// same candidates elects the same one; a node that disagrees only adds a duplicate claim.
std::string elect_slot_runner(std::string_view slot_id, const std::vector<std::string>& node_ids);

}  // namespace mesh::ci
