// The plugin's one Board and everything around it that is not the ABI (docs/issues.md, "The
// glue"): the journal and the subscription's cursor name, the membership check on every
// delivered event, refusals logged (rate-limited), the numbers this node has claimed but not
// seen come back yet, and waiters that answer a user once this node's own op has been taken.
//
// Thread-safe: one mutex around the board. Hooks are called without it held, except publish,
// which runs under it so that two actions planned at once see each other's claims, and
// members, which runs under the membership's own mutex (always taken after the board's, never
// before it, so name_of may be called from inside read()).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "board.hpp"
#include "journal.hpp"
#include "order_key.hpp"
#include "planner.hpp"

namespace mesh::issues {

enum class LogLevel : std::uint8_t { debug, info, warn, error };

struct Member {
  std::string id;    // "mesh:..."
  std::string name;  // the roster's display name (may be empty)
};

struct ServiceHooks {
  // Publishes a payload on topic `issues`: true and the event's seq, or false and why.
  std::function<bool(const std::string& payload, std::uint64_t* seq, std::string* error)> publish;
  std::function<void(LogLevel, const std::string&)> log;
  // The current members (peers_json), or nullopt when the host cannot say (then every origin
  // counts as a member: the core stores members' events only).
  std::function<std::optional<std::vector<Member>>()> members;
  // A repo's board changed (an op applied, or waiting ops released): for live pages.
  std::function<void(const std::string& repo, const std::string& issue)> changed;
};

// What became of one of this node's own events, for the user who published it.
struct Taken {
  bool taken = false;  // false: the wait ran out (the op is published; it will still apply)
  Outcome outcome = Outcome::applied;
  Problem problem;  // refused: why
};

struct GlueStats {
  std::uint64_t non_member = 0;         // events refused because the origin is no member
  std::uint64_t journal_failures = 0;   // appends that failed (the next start rebuilds)
  std::uint64_t refusals_unlogged = 0;  // refusals past the log rate limit
  std::uint64_t replayed = 0;           // events replayed from the journal at start
  bool rebuilding = false;              // started without a usable journal
  std::string cursor;
};

class Service {
 public:
  using Clock = std::chrono::steady_clock;

  Service(ServiceHooks hooks, std::string self_id, Random random, WaitingLimits limits = {},
          MemberLimits member_limits = {});
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Opens <dir>/journal and <dir>/cursor and replays the journal. Returns the cursor name to
  // subscribe with: the recorded one, or a new one when the journal is missing or unusable (the
  // host then delivers every stored event again, and the board is rebuilt from the feeds).
  std::string open(const std::filesystem::path& dir);

  // The subscription's handler. false: deliver it again later (the waiting room is full).
  bool on_event(const EventIn& event);

  // Runs plan(board) under the lock; validates, encodes and publishes every op it returns, in
  // order. An op that does not encode, or that this node's quota (MemberLimits) would refuse,
  // publishes nothing; a failed publish stops there (the ones before it are out).
  // last_seq: the seq of the last published op (0 if none).
  struct Published {
    bool ok = true;
    std::string error;
    std::uint64_t last_seq = 0;
    std::vector<std::uint64_t> seqs;
  };
  Published act(const std::function<Planned<std::vector<Op>>(const Board&)>& plan);

  // The number a new issue of `repo` claims on this node: one above every number the board
  // knows and every number this node has claimed but not seen come back yet.
  std::uint64_t next_number(const Board& board, const std::string& repo) const;

  // Runs fn(board) under the lock.
  template <typename F>
  auto read(F&& fn) const {
    std::lock_guard lock(mu_);
    return fn(board_);
  }

  // Calls done(Taken) once this node's event `seq` has been taken by the board (or right away
  // if it has been), or with taken == false at `deadline` (expire()). Without the lock held.
  void when_taken(std::uint64_t seq, Clock::time_point deadline, std::function<void(Taken)> done);
  void expire(Clock::time_point now);
  // Answers every waiter with taken == false (the plugin stops).
  void cancel_waiters();

  // Member display names by id (refreshed from the hook at most once a second). Safe to call
  // inside read().
  std::string name_of(std::string_view origin);
  bool is_member(const std::string& origin);
  // The roster changed (a roster event): the next check asks the hook again.
  void forget_members();

  GlueStats glue_stats() const;
  const std::string& self() const { return self_; }
  const Random& random() const { return random_; }

 private:
  struct Waiter {
    std::uint64_t seq;
    Clock::time_point deadline;
    std::function<void(Taken)> done;
  };
  void journal_failed(const std::string& why);
  void log_refusal(const std::string& origin, std::uint64_t seq, const std::string& repo,
                   const std::string& issue, const Problem& p);
  void refresh_members_locked(bool force);  // members_mu_ held

  ServiceHooks hooks_;
  const std::string self_;
  Random random_;
  WaitingLimits waiting_limits_;
  MemberLimits member_limits_;

  mutable std::mutex mu_;
  Board board_;
  std::unique_ptr<Journal> journal_;
  std::filesystem::path dir_;
  GlueStats glue_;
  std::uint64_t taken_self_ = 0;  // highest seq of this node's events the board has taken
  std::map<std::uint64_t, Taken> self_outcomes_;  // recent own events (for late waiters)
  std::vector<Waiter> waiters_;
  std::map<std::string, std::uint64_t, std::less<>> claimed_;  // repo -> last number claimed

  mutable std::mutex members_mu_;                            // after mu_ when both are held
  std::map<std::string, std::string, std::less<>> members_;  // id -> name, this node included
  bool members_known_ = false;
  Clock::time_point members_at_{};

  // Refusal log lines: at most kLogBurst per kLogWindow.
  Clock::time_point log_window_{};
  std::uint32_t logged_in_window_ = 0;
};

// Uniform random values from libsodium (randombytes_buf), for order keys' jitter.
Random system_random();

// The SSE channel of a repo's board: "issues/<repo>" when the name fits the channel grammar
// (lower case, no '_'), else "issues/." + 32 hex digits of a hash of the name (a repo name
// never starts with '.', so the two forms cannot meet).
std::string board_channel(std::string_view repo);

}  // namespace mesh::issues
