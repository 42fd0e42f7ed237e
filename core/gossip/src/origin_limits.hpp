// The engine's bookkeeping of what each member may still make this node do: token buckets per
// origin (stored events, feed bytes, live events) and per linked peer (sync requests), the
// offenders shown in `mesh status`, and a log line per member and kind at most once a minute.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mesh/gossip/limits.hpp"

namespace mesh::gossip {

class OriginLimits {
 public:
  // `describe` names a key for log lines ("bob (mesh:abcd…)").
  explicit OriginLimits(Limits limits, std::function<std::string(const PublicKey&)> describe);

  void set(const Limits& limits);  // takes effect for the next event; buckets keep their level
  Limits get() const;

  // Each takes one event (of `bytes`) from the origin's buckets, or refuses it, counts it against
  // the origin and logs (once a minute per origin and kind). Only verified members' events
  // reach them, so every key here is a member (or was one) and the maps stay small.
  bool admit_stored(const PublicKey& origin, std::size_t bytes, std::uint64_t now_ms);
  bool admit_live(const PublicKey& origin, std::uint64_t now_ms);
  bool admit_sync(const PublicKey& peer, std::uint64_t now_ms);
  // A stored event refused by lamport_acceptable.
  void lamport_refused(const PublicKey& origin, std::uint64_t lamport, std::uint64_t local,
                       std::uint64_t now_ms);

  // True shortly after one of the origin's stored events was refused (a second; a minute after a
  // Lamport refusal): a gap of its feed is then this node's own doing, and asking a peer for the
  // rest (a WANT, which costs the peer a round) would only bring events it refuses again.
  bool held_back(const PublicKey& origin, std::uint64_t now_ms) const;

  std::vector<Offender> offenders() const;
  // Totals over all members: "events", "feed_bytes", "live", "sync".
  std::map<std::string, std::uint64_t> throttled() const;

 private:
  struct Bucket {
    double tokens = -1;  // < 0: not started (starts full)
    std::uint64_t at_ms = 0;
    // Refills at rate_per_ms up to capacity, then takes `cost` if there is that much.
    bool take(double cost, double capacity, double rate_per_ms, std::uint64_t now_ms);
  };
  struct Origin {
    Bucket events, bytes, live, sync;
    Offender record;
    std::map<std::string, std::uint64_t> unlogged;   // kind -> refusals since its last line
    std::map<std::string, std::uint64_t> logged_ms;  // kind -> when its last line went out
    std::uint64_t stored_refused_ms = 0, lamport_refused_ms = 0;
  };

  Origin* origin_locked(const PublicKey& key);
  void refused_locked(Origin& o, const PublicKey& key, const std::string& kind,
                      std::uint64_t now_ms, const std::string& why);

  mutable std::mutex mu_;
  Limits limits_;
  std::function<std::string(const PublicKey&)> describe_;
  std::map<PublicKey, Origin> origins_;
  std::map<std::string, std::uint64_t> totals_;
};

}  // namespace mesh::gossip
