// The issues of every repo, rebuilt from the events on topic `issues` (docs/issues.md). No
// database: a Board is a pure function of the set of events it was given, whatever order they
// came in across origins (each origin's own events in seq order, as the host delivers them).
//
// An op for an issue whose create has not arrived waits in the board and is applied when the
// create comes. Waiting is bounded (WaitingLimits); past a cap apply() answers `deferred` and
// takes nothing, so the glue answers MESH_EVENT_RETRY and the host delivers the event again
// later: memory stays bounded and nothing is dropped.
//
// Not thread-safe: the glue serialises calls (one mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crdt.hpp"
#include "limits.hpp"
#include "ops.hpp"

namespace mesh::issues {

// What the host delivered: one stored event of topic `issues` (the fields of mesh_event).
struct EventIn {
  std::string_view origin;  // "mesh:..."
  std::uint64_t seq = 0;
  std::uint64_t lamport = 0;
  std::uint64_t wall_ms = 0;
  std::string_view payload;
};

struct StateValue {
  State state = State::open;
  std::string commit;  // the commit whose message closed it, if any
};

struct Comment {
  std::string id;      // the comment op's id
  std::string author;  // its origin; only it may edit
  Stamp created;
  std::uint64_t created_ms = 0;
  Lww<std::string> body;
  std::uint64_t edited_ms = 0;  // 0: never edited
};

struct Issue {
  std::string id;  // the create op's id
  std::string repo;
  std::string author;     // the create's origin
  std::uint64_t num = 0;  // as claimed by the create; display_ref() makes it unique
  Stamp created;
  std::uint64_t created_ms = 0;
  std::uint64_t updated_ms = 0;  // the latest wall clock of any op applied to it
  Lww<std::string> title, body, order;
  Lww<StateValue> state;
  OrSet labels, assignees;
  std::map<std::string, Comment> comments;  // by id; comments_in_order() sorts by stamp
};

struct Repo {
  std::map<std::string, Issue> issues;                       // by full id
  std::map<std::uint64_t, std::vector<std::string>> claims;  // num -> ids that claimed it
};

enum class Outcome : std::uint8_t {
  applied,    // the op is part of the state (also when it lost a last-writer-wins race)
  pending,    // waits for its issue's create
  refused,    // invalid, or not allowed (problem says why); part of no state, ever
  duplicate,  // this (origin, seq) was handled before: nothing changed
  deferred,   // the waiting room is full: nothing taken, deliver it again later
};
std::string_view outcome_name(Outcome outcome);

struct Refusal {
  std::string origin;
  std::uint64_t seq = 0;
  std::string repo, issue;  // as far as known
  Problem problem;
};

struct ApplyResult {
  Outcome outcome = Outcome::refused;
  std::string repo, issue;  // what the op touched or waits for (empty if unparseable)
  Problem problem;          // refused or deferred: why
  // A create releases the ops that waited for it: how many were applied now, and the ones
  // refused now (each to be logged like any refusal).
  std::size_t released = 0;
  std::vector<Refusal> released_refused;
};

// A group of ops waiting for issues, for `mesh status`: which origin, which repo, how many,
// and one issue they wait for.
struct PendingGroup {
  std::string origin, repo;
  std::size_t count = 0;
  std::string waiting_for;
};

struct WaitingLimits {
  std::size_t per_origin_repo = kMaxWaitingPerOriginRepo;
  std::size_t total = kMaxWaitingTotal;
  std::size_t total_bytes = kMaxWaitingBytes;  // of payloads
};

struct MemberLimits {
  std::uint64_t issues = kMaxIssuesPerMember;
  std::uint64_t comments = kMaxCommentsPerMember;
  std::uint64_t bytes = kMaxBytesPerMember;  // payload bytes of every event taken
};

// What a member has been charged so far (every event it published that the board took, in
// its seq order: applied, waiting, or refused for another reason than the quota).
struct MemberUsage {
  std::uint64_t issues = 0, comments = 0, bytes = 0;
};

struct BoardStats {
  std::size_t issues = 0;
  std::uint64_t applied = 0, refused = 0, duplicates = 0, deferred = 0;
  std::size_t pending = 0, pending_bytes = 0, pending_peak = 0;
  std::map<std::string, std::uint64_t> refused_by_reason;
};

class Board {
 public:
  explicit Board(WaitingLimits limits = {}, MemberLimits members = {})
      : limits_(limits), member_limits_(members) {}

  // Never throws on bad input: every problem is a refusal in the result.
  ApplyResult apply(const EventIn& event);

  const Repo* repo(std::string_view name) const;
  std::vector<std::string> repo_names() const;
  const Issue* issue(std::string_view full_id) const;

  BoardStats stats() const;
  const MemberLimits& member_limits() const { return member_limits_; }
  MemberUsage usage(std::string_view origin) const;
  const std::map<std::string, MemberUsage, std::less<>>& usage_by_member() const { return usage_; }
  // The quota refusal an event of `origin` with this payload would get now (what the planner
  // checks before this node publishes), or nothing.
  Check quota_check(std::string_view origin, std::size_t payload_bytes,
                    std::optional<Kind> kind) const;
  std::vector<PendingGroup> pending() const;
  const std::deque<Refusal>& recent_refusals() const { return recent_refusals_; }

 private:
  struct Meta {
    std::string origin;
    std::uint64_t seq = 0, lamport = 0, wall_ms = 0;
    std::string id;  // op_id(origin, seq)
    Stamp stamp() const { return Stamp{lamport, origin, seq}; }
  };
  // The raw payload, parsed again on release: a few hundred bytes per op while waiting.
  struct Waiting {
    std::string payload, repo;
    Meta meta;
  };

  void apply_create(Op op, const Meta& meta, ApplyResult& result);
  // Applies a non-create op to its (existing) issue; a problem if it is refused.
  Check apply_to(Issue& issue, const Op& op, const Meta& meta);
  // Ops that waited for `id`: applied if it is an issue now, else refused.
  void release(const std::string& id, Issue* issue, ApplyResult& result);
  void refuse(const Meta& meta, std::string repo, std::string issue, Problem problem,
              std::vector<Refusal>* into);

  std::map<std::string, Repo, std::less<>> repos_;
  std::unordered_map<std::string, Issue*> by_id_;            // full id -> issue (in repos_)
  std::unordered_map<std::string, std::uint64_t> last_seq_;  // per origin
  // Ids of events that are not issues (every other op, and refused events): an op naming
  // one can never apply, so it is refused instead of waiting forever.
  std::unordered_set<std::string> not_issues_;
  std::unordered_map<std::string, std::vector<Waiting>> waiting_;  // by the issue id they name
  std::map<std::pair<std::string, std::string>, std::size_t> waiting_count_;  // (origin, repo)
  std::size_t waiting_total_ = 0, waiting_bytes_ = 0;
  WaitingLimits limits_;
  MemberLimits member_limits_;
  std::map<std::string, MemberUsage, std::less<>> usage_;  // by origin

  BoardStats counters_;
  std::deque<Refusal> recent_refusals_;
};

}  // namespace mesh::issues
