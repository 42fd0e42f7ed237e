// What one member may make this node store or do through gossip: the Lamport clock bound and
// the per-origin and per-peer limits (docs/protocol.md "Lamport clock bound", docs/security.md
// "A member is trusted, not unlimited").
#pragma once

#include <cstdint>
#include <string>

#include "mesh/gossip/event.hpp"

namespace mesh::gossip {

// A stored event may raise the local clock by at most this much. An honest clock moves by one
// per event anyone in the mesh publishes, so 2^32 is more events than a team makes in decades,
// while an attacker needs 2^31 accepted events (far past every rate limit) to drive a clock to
// the ceiling. Part of the protocol: every node applies the same rule.
inline constexpr std::uint64_t kMaxLamportJump = std::uint64_t{1} << 32;
// No stored event may carry a clock above this, whatever the local clock: the upper half of the
// space is never handed to an incoming event, so the clock cannot be exhausted from outside.
inline constexpr std::uint64_t kLamportCeiling = std::uint64_t{1} << 63;

// The rule: `lamport` may be stored next to a local clock at `local`.
constexpr bool lamport_acceptable(std::uint64_t lamport, std::uint64_t local) {
  if (lamport > kLamportCeiling) return false;
  return lamport <= local || lamport - local <= kMaxLamportJump;
}

// [gossip] in mesh.toml. Rates are token buckets: `per_minute` tokens come back each minute
// and at most `burst` are saved up (a catch-up after an outage arrives as one burst).
struct Limits {
  // Stored events of one origin (whichever member relays them).
  std::uint32_t events_per_minute = 1200;
  std::uint32_t event_burst = 10'000;
  // Bytes of stored events of one origin per day (the bucket holds one day's worth).
  std::uint64_t feed_bytes_per_day = std::uint64_t{512} << 20;
  // Ephemeral events (heartbeats, *.live) of one origin relayed by this node.
  std::uint32_t live_per_minute = 1800;
  // Version vectors and wants one linked peer may send that make this node push to it.
  std::uint32_t sync_per_minute = 60;
};

// Why a member shows up in `mesh status` (gossip.offenders).
struct Offender {
  PublicKey key;
  std::uint64_t lamport_refused = 0;   // events with a clock too far ahead
  std::uint64_t highest_lamport = 0;   // the highest such clock
  std::uint64_t events_throttled = 0;  // over events_per_minute / event_burst
  std::uint64_t bytes_throttled = 0;   // events refused over feed_bytes_per_day
  std::uint64_t live_throttled = 0;    // over live_per_minute
  std::uint64_t sync_throttled = 0;    // over sync_per_minute (as a linked peer)
  std::string last;                    // "lamport", "events", "feed_bytes", "live" or "sync"
  std::uint64_t last_ms = 0;
};

}  // namespace mesh::gossip
