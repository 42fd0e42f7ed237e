// Every member's append-only feed as plain files under <root>/feeds/ (format and recovery in
// docs/protocol.md, "Feed files"), plus this node's Lamport clock.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/gossip/event.hpp"

namespace mesh::gossip {

// origin -> highest stored seq: what anti-entropy exchanges.
using VersionVector = std::map<PublicKey, std::uint64_t>;

enum class Appended : std::uint8_t {
  stored,     // seq == last + 1: written and fsync'd
  duplicate,  // seq <= last: already have it, nothing written
  gap,        // seq > last + 1: nothing written; fetch last+1 .. seq-1 first
};

// What recovery found on open, per origin that needed repair.
struct RecoveryReport {
  struct Truncation {
    PublicKey origin;
    std::uint64_t kept_records = 0;
    std::uint64_t dropped_bytes = 0;
  };
  std::vector<Truncation> truncated;
};

inline constexpr std::size_t kMaxFeeds = 10000;
inline constexpr std::size_t kMaxReadCount = 4096;
inline constexpr std::size_t kDefaultReadBytes = 4 * 1024 * 1024;

class FeedStore {
 public:
  // Opens (creating) <root>/feeds, scans every feed file and truncates torn or corrupt tails.
  // Holds an exclusive flock on <root>/feeds/lock while open: a second store on the same root,
  // in this or another process, fails with Errc::state.
  static Result<std::unique_ptr<FeedStore>> open(const std::filesystem::path& root);
  ~FeedStore();
  FeedStore(const FeedStore&) = delete;
  FeedStore& operator=(const FeedStore&) = delete;

  // Stores the next event of its origin. The caller verifies the event first (gossip::verify):
  // the store checks only structure and sequence. Returns after the record is fsync'd. Storing
  // an event also observes its Lamport clock.
  Result<Appended> append(const Event& event);

  // Signs and stores this node's next event under one lock, so concurrent publishers never
  // race for a seq: seq = last_seq(self) + 1, lamport = tick().
  Result<Event> append_own(const identity::Identity& self, std::string_view topic,
                           std::span<const std::uint8_t> payload, std::uint64_t wall_ms);

  std::uint64_t last_seq(const PublicKey& origin) const;  // 0 if none
  std::uint64_t next_seq(const PublicKey& self) const { return last_seq(self) + 1; }
  VersionVector version_vector() const;

  // Events from_seq, from_seq+1, ... of one origin: at most max_count (capped at kMaxReadCount)
  // and stopping once max_bytes of encodings were read (at least one event is returned).
  // Empty if from_seq is past the end. Uses the in-memory offset index: no scanning.
  Result<std::vector<Event>> read(const PublicKey& origin, std::uint64_t from_seq,
                                  std::size_t max_count,
                                  std::size_t max_bytes = kDefaultReadBytes) const;

  // Lamport clock. tick() returns a value greater than every value it returned before (across
  // restarts) and than every observed one. It persists a reservation some way ahead of the
  // value (in <root>/feeds/lamport, atomically) before returning, so most ticks write nothing
  // and a restart resumes above every value handed out. It never fails for exhaustion: the
  // engine keeps stored clocks below kLamportCeiling (limits.hpp) and open() ignores clocks above
  // it, so the last value is unreachable; were it reached, tick() would keep returning it.
  Result<std::uint64_t> tick();
  // In memory only: anything observed from a stored event is recovered from the feeds on open,
  // and ephemeral events need no ordering across restarts.
  void observe(std::uint64_t lamport);
  std::uint64_t lamport() const;

  const RecoveryReport& recovery() const { return recovery_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct Feed;
  explicit FeedStore(std::filesystem::path dir);
  Result<Feed*> feed_for(const PublicKey& origin);  // creates the file if missing
  Result<Appended> append_locked(const Event& event);
  Result<std::uint64_t> tick_locked();

  std::filesystem::path dir_;
  mutable std::mutex mu_;
  std::map<PublicKey, std::unique_ptr<Feed>> feeds_;
  int lock_fd_ = -1;
  std::uint64_t lamport_ = 0;
  std::uint64_t reserved_ = 0;  // persisted in <dir>/lamport; lamport_ never passes it unsaved
  RecoveryReport recovery_;
};

}  // namespace mesh::gossip
