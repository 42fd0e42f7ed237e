#include "origin_limits.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "mesh/gossip/feed_store.hpp"

namespace mesh::gossip {
namespace {

constexpr std::uint64_t kLogIntervalMs = 60'000;
constexpr double kMinute = 60'000.0;
constexpr double kDay = 86'400'000.0;

}  // namespace

bool OriginLimits::Bucket::take(double cost, double capacity, double rate_per_ms,
                                std::uint64_t now_ms) {
  if (tokens < 0) {
    tokens = capacity;
  } else if (now_ms > at_ms) {
    tokens = std::min(capacity, tokens + static_cast<double>(now_ms - at_ms) * rate_per_ms);
  }
  // A lowered limit applies at once; a clock that went back refills nothing.
  tokens = std::min(tokens, capacity);
  at_ms = std::max(at_ms, now_ms);
  if (tokens < cost) return false;
  tokens -= cost;
  return true;
}

OriginLimits::OriginLimits(Limits limits, std::function<std::string(const PublicKey&)> describe)
    : limits_(limits), describe_(std::move(describe)) {}

void OriginLimits::set(const Limits& limits) {
  std::lock_guard lock(mu_);
  limits_ = limits;
}

Limits OriginLimits::get() const {
  std::lock_guard lock(mu_);
  return limits_;
}

OriginLimits::Origin* OriginLimits::origin_locked(const PublicKey& key) {
  if (auto it = origins_.find(key); it != origins_.end()) return &it->second;
  // As many as the store has feeds; past that the store refuses new origins anyway.
  if (origins_.size() >= kMaxFeeds) return nullptr;
  Origin& o = origins_[key];
  o.record.key = key;
  return &o;
}

void OriginLimits::refused_locked(Origin& o, const PublicKey& key, const std::string& kind,
                                  std::uint64_t now_ms, const std::string& why) {
  ++totals_[kind];
  o.record.last = kind;
  o.record.last_ms = now_ms;
  auto& pending = o.unlogged[kind];
  ++pending;
  auto& logged = o.logged_ms[kind];
  if (logged != 0 && now_ms < logged + kLogIntervalMs) return;
  spdlog::warn("gossip: {} {}: {} refused since the last such line", describe_(key), why, pending);
  logged = std::max<std::uint64_t>(now_ms, 1);
  pending = 0;
}

bool OriginLimits::admit_stored(const PublicKey& origin, std::size_t bytes, std::uint64_t now_ms) {
  std::lock_guard lock(mu_);
  Origin* o = origin_locked(origin);
  if (!o) return false;
  const Limits& l = limits_;
  // The byte bucket is checked first and charged only if the event passes both.
  double day = static_cast<double>(l.feed_bytes_per_day);
  Bucket bytes_after = o->bytes;
  if (!bytes_after.take(static_cast<double>(bytes), day, day / kDay, now_ms)) {
    ++o->record.bytes_throttled;
    o->stored_refused_ms = std::max<std::uint64_t>(now_ms, 1);
    refused_locked(
        *o, origin, "feed_bytes", now_ms,
        "is over [gossip] max_feed_bytes_per_day = " + std::to_string(l.feed_bytes_per_day) +
            "; its events are fetched again later");
    return false;
  }
  if (!o->events.take(1, l.event_burst, l.events_per_minute / kMinute, now_ms)) {
    ++o->record.events_throttled;
    o->stored_refused_ms = std::max<std::uint64_t>(now_ms, 1);
    refused_locked(*o, origin, "events", now_ms,
                   "is over [gossip] max_events_per_minute = " +
                       std::to_string(l.events_per_minute) + " (event_burst " +
                       std::to_string(l.event_burst) + "); its events are fetched again later");
    return false;
  }
  o->bytes = bytes_after;
  return true;
}

bool OriginLimits::admit_live(const PublicKey& origin, std::uint64_t now_ms) {
  std::lock_guard lock(mu_);
  Origin* o = origin_locked(origin);
  if (!o) return false;
  double n = limits_.live_per_minute;
  if (o->live.take(1, n, n / kMinute, now_ms)) return true;
  ++o->record.live_throttled;
  refused_locked(*o, origin, "live", now_ms,
                 "is over [gossip] max_live_per_minute = " +
                     std::to_string(limits_.live_per_minute) + "; its live events are dropped");
  return false;
}

bool OriginLimits::admit_sync(const PublicKey& peer, std::uint64_t now_ms) {
  std::lock_guard lock(mu_);
  Origin* o = origin_locked(peer);
  if (!o) return false;
  double n = limits_.sync_per_minute;
  if (o->sync.take(1, n, n / kMinute, now_ms)) return true;
  ++o->record.sync_throttled;
  refused_locked(
      *o, peer, "sync", now_ms,
      "is over [gossip] max_sync_per_minute = " + std::to_string(limits_.sync_per_minute) +
          "; its sync requests wait for the next anti-entropy round");
  return false;
}

void OriginLimits::lamport_refused(const PublicKey& origin, std::uint64_t lamport,
                                   std::uint64_t local, std::uint64_t now_ms) {
  std::lock_guard lock(mu_);
  Origin* o = origin_locked(origin);
  if (!o) return;
  ++o->record.lamport_refused;
  o->lamport_refused_ms = std::max<std::uint64_t>(now_ms, 1);
  o->record.highest_lamport = std::max(o->record.highest_lamport, lamport);
  refused_locked(*o, origin, "lamport", now_ms,
                 "sent an event with Lamport clock " + std::to_string(lamport) +
                     " (this node's is " + std::to_string(local) +
                     "; at most 2^32 ahead and never above 2^63); such events are refused");
}

bool OriginLimits::held_back(const PublicKey& origin, std::uint64_t now_ms) const {
  std::lock_guard lock(mu_);
  auto it = origins_.find(origin);
  if (it == origins_.end()) return false;
  const Origin& o = it->second;
  return (o.stored_refused_ms != 0 && now_ms < o.stored_refused_ms + 1'000) ||
         (o.lamport_refused_ms != 0 && now_ms < o.lamport_refused_ms + kLogIntervalMs);
}

std::vector<Offender> OriginLimits::offenders() const {
  std::lock_guard lock(mu_);
  std::vector<Offender> out;
  for (const auto& [key, o] : origins_) {
    if (!o.record.last.empty()) out.push_back(o.record);
  }
  return out;
}

std::map<std::string, std::uint64_t> OriginLimits::throttled() const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::uint64_t> out;
  for (const auto& [kind, n] : totals_) {
    if (kind != "lamport") out[kind] = n;
  }
  return out;
}

}  // namespace mesh::gossip
