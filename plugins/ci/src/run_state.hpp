// One run as every node sees it, folded from its records, and the rules for who may write what.
//
// Writers (docs/ci.md, "Who writes what"):
//   run.created     the node that received the push / ran `ci run` / won the cron slot: the
//                   originator. A second run.created for the same id is a duplicate (ignored).
//   run.assigned,   the originator only: the first assignment, and a reassignment after a
//   run.reassigned  decline, a missed claim window or a lost lease (never after a cancel).
//   run.claimed, run.declined, run.lease, job.state
//                   the assignee of the current attempt only.
//   run.ended       the assignee (passed / failed / cancelled, while it holds the run); the
//                   originator (failed / no-runner / cancelled, at any time: it is the reaper of
//                   its runs); any other member only for an orphan, i.e. when the run's current
//                   deadline (created + nothing assigned, claim_by, lease_until) passed more than
//                   limits::kOrphanGraceMs before the member's own record.
//   run.cancel      anyone; the assignee (or the originator, before a claim) then ends the run.
// A record that breaks a rule is ignored, with a reason the node logs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "records.hpp"
#include "states.hpp"

namespace mesh::ci {

// Where a record came from: the gossip envelope of its event.
struct Envelope {
  std::string origin;  // "mesh:..."
  std::uint64_t seq = 0;
  std::uint64_t lamport = 0;
  std::uint64_t wall_ms = 0;  // the origin's clock
};

struct JobState {
  std::string name;
  std::string mode;
  std::vector<std::string> needs;
  JobPhase phase = JobPhase::pending;
  std::optional<std::int32_t> exit_code;
  std::uint64_t started_ms = 0;
  std::uint64_t ended_ms = 0;
  std::string reason;
};

struct Attempt {
  std::uint32_t number = 0;
  std::string node;
  std::vector<std::pair<std::string, std::string>> runners;  // mode -> runner name
  std::uint64_t assigned_ms = 0;
  std::uint64_t claim_by_ms = 0;
  std::string reassign_reason;  // why the previous attempt was replaced
  bool claimed = false;
  std::uint64_t claimed_ms = 0;
  std::uint64_t lease_until_ms = 0;
  std::string declined;  // the assignee's reason, if it declined
};

struct CancelRequest {
  std::string by;
  std::string reason;
  std::uint64_t at_ms = 0;
};

struct RunState {
  std::string id;
  bool created = false;
  RunCreated spec;
  std::string originator;
  std::uint64_t created_ms = 0;

  RunPhase phase = RunPhase::queued;
  std::string reason;  // set for every terminal state but passed
  std::string ended_by;
  std::uint64_t ended_ms = 0;
  std::uint64_t updated_ms = 0;  // wall clock of the last accepted record

  std::vector<Attempt> attempts;  // the last is current
  std::vector<JobState> jobs;     // spec.jobs, in order
  std::optional<CancelRequest> cancel;

  const Attempt* current() const { return attempts.empty() ? nullptr : &attempts.back(); }
  std::uint32_t attempt_number() const { return attempts.empty() ? 0 : attempts.back().number; }
  // The node holding the current attempt, or empty.
  std::string assignee() const { return attempts.empty() ? std::string() : attempts.back().node; }
  // Every node that held an attempt, the current one included: a reassignment skips them all.
  std::vector<std::string> tried_nodes() const;
  const JobState* job(std::string_view name) const;
  // When the current step should have happened: queued: created_ms (assignment is immediate),
  // assigned: claim_by_ms, running: lease_until_ms; 0 once ended.
  std::uint64_t deadline_ms() const;
};

// Applies one control record (not a log segment or a slot record) in the fold's order. Returns
// an empty string if it was accepted, else why it was ignored (the state is then unchanged).
std::string apply_record(RunState& state, const Record& record, const Envelope& from);

}  // namespace mesh::ci
