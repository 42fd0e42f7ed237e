// Persisted per-subscriber delivery cursors and the delivery loop that uses them, so every
// stored event reaches each subscriber once per node, in per-origin seq order, across restarts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/gossip/event.hpp"
#include "mesh/gossip/feed_store.hpp"

namespace mesh::gossip {

inline constexpr std::size_t kMaxSubscribers = 1024;

// Cursor files live at <root>/feeds/cursors/<subscriber>.cursor, one line per origin
// ("<base32 key> <last delivered seq>"), replaced atomically on every change.
class Cursors {
 public:
  static Result<std::unique_ptr<Cursors>> open(const std::filesystem::path& root);

  // Last delivered seq for (subscriber, origin); 0 if none. Subscriber names follow the topic
  // grammar (they become file names). An unknown or unreadable subscriber reads as empty.
  Result<std::uint64_t> get(std::string_view subscriber, const PublicKey& origin);
  Result<VersionVector> snapshot(std::string_view subscriber);

  // Advances the cursor to seq (never moves it back) and returns once it is durable.
  Status ack(std::string_view subscriber, const PublicKey& origin, std::uint64_t seq);

 private:
  explicit Cursors(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Result<VersionVector*> load_locked(std::string_view subscriber);
  Status save_locked(std::string_view subscriber, const VersionVector& v);

  std::filesystem::path dir_;
  std::mutex mu_;
  std::map<std::string, VersionVector, std::less<>> cache_;
  std::set<std::string, std::less<>> busy_;  // subscribers with a deliver() in progress
  friend Result<std::size_t> deliver(FeedStore&, Cursors&, std::string_view,
                                     const std::function<bool(std::string_view)>&,
                                     const std::function<bool(const Event&)>&, std::size_t);
};

// "*" matches every topic; "ci" matches "ci" and "ci.<anything>".
bool topic_matches(std::string_view pattern, std::string_view topic);

using TopicFilter = std::function<bool(std::string_view topic)>;

// The undelivered events for a subscriber that pass the filter, in per-origin seq order (origins
// in key order), at most max_events. Read-only: the caller acks each one after handling it.
Result<std::vector<Event>> pending(const FeedStore& store, Cursors& cursors,
                                   std::string_view subscriber, const TopicFilter& filter,
                                   std::size_t max_events);

// Hands undelivered, matching events to `handle` one at a time and acks each right after
// `handle` returns true. Events the filter skips are acked in bulk. If `handle` returns false,
// delivery of that origin stops there (no ack) and resumes with the same event next time.
//
// Guarantee: exactly once per node for events whose ack completed. If the process dies between
// `handle` returning and the ack becoming durable, that one event is handed over again after the
// restart, so handlers must tolerate seeing their last event twice (at-least-once at the edge).
// Only one deliver() per subscriber runs at a time; a concurrent call fails with Errc::state.
// A handler that throws leaves its event unacked; deliver() then fails with Errc::internal.
// Returns the number of events handed to `handle` (and acked).
Result<std::size_t> deliver(FeedStore& store, Cursors& cursors, std::string_view subscriber,
                            const TopicFilter& filter,
                            const std::function<bool(const Event&)>& handle,
                            std::size_t max_events);

}  // namespace mesh::gossip
