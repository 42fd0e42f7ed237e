// apply_record: one step of the deterministic fold of a run's records (rules: run_state.hpp).
#include <algorithm>
#include <set>

#include "dag.hpp"
#include "ids.hpp"
#include "limits.hpp"
#include "run_state.hpp"

namespace mesh::ci {
namespace {

std::string attempt_text(std::uint32_t n) {
  return "attempt " + std::to_string(n);
}

JobState fresh_job(const std::string& name, const std::string& mode,
                   const std::vector<std::string>& needs) {
  JobState j;
  j.name = name;
  j.mode = mode;
  j.needs = needs;
  return j;
}

// A new attempt starts every job again.
void reset_jobs(RunState& s) {
  for (auto& j : s.jobs) j = fresh_job(j.name, j.mode, j.needs);
}

// Checks that come first for every record of the current attempt's assignee.
std::string check_assignee(const RunState& s, const Envelope& from, std::uint32_t attempt,
                           std::string_view what) {
  if (is_terminal(s.phase)) return std::string(what) + " after the run ended";
  const Attempt* cur = s.current();
  if (!cur) return std::string(what) + " for a run that was never assigned";
  if (attempt != cur->number)
    return std::string(what) + " for " + attempt_text(attempt) + ", but the run is at " +
           attempt_text(cur->number);
  if (from.origin != cur->node)
    return std::string(what) + " from " + from.origin + ", which is not the assignee " + cur->node;
  return {};
}

std::string on_created(RunState& s, const RunCreated& c, const Envelope& from) {
  if (s.created)
    return from.origin == s.originator ? "duplicate run.created"
                                       : "run already created by " + s.originator;
  if (run_id(c.repo, c.ref, c.sha, c.trigger_key) != s.id)
    return "run id does not match its repo, ref, sha and trigger";
  std::vector<DagNode> nodes;
  for (const auto& j : c.jobs) nodes.push_back({j.name, j.needs});
  if (auto dag = Dag::build(nodes); !dag) return "invalid jobs: " + dag.error().message;
  s.created = true;
  s.spec = c;
  s.originator = from.origin;
  s.created_ms = from.wall_ms;
  s.phase = RunPhase::queued;
  s.jobs.clear();
  for (const auto& j : c.jobs) s.jobs.push_back(fresh_job(j.name, j.mode, j.needs));
  return {};
}

std::string on_assigned(RunState& s, const RunAssigned& a, const Envelope& from) {
  if (from.origin != s.originator) return "only the originator " + s.originator + " assigns";
  if (is_terminal(s.phase)) return "assignment after the run ended";
  std::uint32_t next = s.attempt_number() + 1;
  if (a.attempt != next)
    return "assignment of " + attempt_text(a.attempt) + " out of turn (expected " +
           attempt_text(next) + ")";
  if (s.jobs.empty()) return "assignment of a run without jobs";
  if (a.attempt > 1 && s.cancel) return "reassignment after a cancel request";
  for (const auto& j : s.jobs) {
    bool covered = std::any_of(a.runners.begin(), a.runners.end(),
                               [&](const auto& r) { return r.first == j.mode; });
    if (!covered) return "assignment names no runner for mode " + j.mode;
  }
  Attempt at;
  at.number = a.attempt;
  at.node = a.node;
  at.runners = a.runners;
  at.assigned_ms = from.wall_ms;
  at.claim_by_ms = a.claim_by_ms;
  at.reassign_reason = a.reason;
  s.attempts.push_back(std::move(at));
  s.phase = RunPhase::assigned;
  reset_jobs(s);
  return {};
}

std::string on_claimed(RunState& s, const RunClaimed& c, const Envelope& from) {
  if (auto why = check_assignee(s, from, c.attempt, "claim"); !why.empty()) return why;
  Attempt& cur = s.attempts.back();
  if (cur.claimed) return "claim of an attempt already claimed";
  if (!cur.declined.empty()) return "claim of an attempt the assignee declined";
  cur.claimed = true;
  cur.claimed_ms = from.wall_ms;
  cur.lease_until_ms = c.lease_until_ms;
  s.phase = RunPhase::running;
  return {};
}

std::string on_declined(RunState& s, const RunDeclined& d, const Envelope& from) {
  if (auto why = check_assignee(s, from, d.attempt, "decline"); !why.empty()) return why;
  Attempt& cur = s.attempts.back();
  if (cur.claimed) return "decline of an attempt already claimed";
  if (!cur.declined.empty()) return "attempt already declined";
  cur.declined = d.reason.empty() ? "declined" : d.reason;
  return {};
}

std::string on_lease(RunState& s, const LeaseRenewed& l, const Envelope& from) {
  if (auto why = check_assignee(s, from, l.attempt, "lease renewal"); !why.empty()) return why;
  Attempt& cur = s.attempts.back();
  if (!cur.claimed) return "lease renewal before the claim";
  cur.lease_until_ms = std::max(cur.lease_until_ms, l.lease_until_ms);
  return {};
}

std::string on_job(RunState& s, const JobUpdate& u, const Envelope& from) {
  if (auto why = check_assignee(s, from, u.attempt, "job update"); !why.empty()) return why;
  if (!s.attempts.back().claimed) return "job update before the claim";
  auto it = std::find_if(s.jobs.begin(), s.jobs.end(),
                         [&](const JobState& j) { return j.name == u.job; });
  if (it == s.jobs.end()) return "job update for unknown job " + u.job;
  JobState& j = *it;
  if (is_terminal(j.phase))
    return "job " + j.name + " is already " + std::string(to_string(j.phase));
  auto need_phase = [&](std::string_view name) {
    auto n = std::find_if(s.jobs.begin(), s.jobs.end(),
                          [&](const JobState& x) { return x.name == name; });
    return n == s.jobs.end() ? JobPhase::pending : n->phase;
  };
  switch (u.state) {
    case JobPhase::pending:
      return "job " + j.name + " cannot go back to pending";
    case JobPhase::running:
      if (j.phase != JobPhase::pending) return "job " + j.name + " is already running";
      for (const auto& n : j.needs) {
        if (need_phase(n) != JobPhase::passed)
          return "job " + j.name + " started before its dependency " + n + " passed";
      }
      break;
    case JobPhase::passed:
      if (j.phase != JobPhase::running) return "job " + j.name + " passed without running";
      break;
    case JobPhase::skipped: {
      if (j.phase != JobPhase::pending) return "job " + j.name + " skipped while running";
      bool blocked = std::any_of(j.needs.begin(), j.needs.end(), [&](const std::string& n) {
        auto p = need_phase(n);
        return p == JobPhase::failed || p == JobPhase::cancelled || p == JobPhase::skipped;
      });
      if (!blocked) return "job " + j.name + " skipped although no dependency failed";
      break;
    }
    case JobPhase::failed:
    case JobPhase::cancelled:
      break;  // from pending too: e.g. an undeclared secret fails a job before it starts
  }
  if (u.state == JobPhase::running) j.started_ms = u.started_ms ? u.started_ms : from.wall_ms;
  if (is_terminal(u.state)) {
    j.ended_ms = u.ended_ms ? u.ended_ms : from.wall_ms;
    if (u.started_ms && !j.started_ms) j.started_ms = u.started_ms;
  }
  j.phase = u.state;
  j.exit_code = u.exit_code;
  j.reason = u.reason;
  return {};
}

void finish(RunState& s, const RunEnded& e, const Envelope& from) {
  s.phase = e.state;
  s.reason = e.reason;
  s.ended_by = from.origin;
  s.ended_ms = from.wall_ms;
  std::string why =
      "run " + std::string(to_string(e.state)) + (e.reason.empty() ? "" : ": " + e.reason);
  for (auto& j : s.jobs) {
    if (j.phase == JobPhase::pending) {
      j.phase = JobPhase::skipped;
      j.reason = why;
      j.ended_ms = from.wall_ms;
    } else if (j.phase == JobPhase::running) {
      j.phase = JobPhase::cancelled;
      j.reason = why;
      j.ended_ms = from.wall_ms;
    }
  }
}

std::string on_ended(RunState& s, const RunEnded& e, const Envelope& from) {
  if (is_terminal(s.phase)) return "run already ended (" + std::string(to_string(s.phase)) + ")";
  if (e.attempt != s.attempt_number())
    return "end of " + attempt_text(e.attempt) + ", but the run is at " +
           attempt_text(s.attempt_number());
  const Attempt* cur = s.current();
  bool assignee = cur && cur->claimed && from.origin == cur->node;
  if (assignee && (e.state == RunPhase::failed || e.state == RunPhase::cancelled)) {
    finish(s, e, from);
    return {};
  }
  if (assignee && e.state == RunPhase::passed) {
    for (const auto& j : s.jobs) {
      if (j.phase != JobPhase::passed)
        return "run passed while job " + j.name + " is " + std::string(to_string(j.phase));
    }
    finish(s, e, from);
    return {};
  }
  if (e.state == RunPhase::passed) return "only the assignee reports a run passed";
  if (from.origin == s.originator) {
    if (e.state == RunPhase::no_runner && cur && cur->claimed)
      return "no-runner for a run a runner claimed";
    finish(s, e, from);
    return {};
  }
  // Anyone else reaps only an orphan: its deadline passed long ago by this member's clock.
  if (e.state == RunPhase::no_runner) return "only the originator ends a run with no-runner";
  if (e.state == RunPhase::cancelled && !s.cancel) return "cancelled without a cancel request";
  std::uint64_t deadline = s.deadline_ms();
  if (from.wall_ms < deadline + limits::kOrphanGraceMs)
    return "end from " + from.origin +
           ", which is neither originator nor assignee, before the run was orphaned";
  finish(s, e, from);
  return {};
}

std::string on_cancel(RunState& s, const CancelRequested& c, const Envelope& from) {
  if (is_terminal(s.phase)) return "cancel after the run ended";
  if (s.cancel) return "cancel already requested";
  s.cancel = CancelRequest{from.origin, c.reason, from.wall_ms};
  return {};
}

}  // namespace

std::vector<std::string> RunState::tried_nodes() const {
  std::set<std::string> out;
  for (const auto& a : attempts) out.insert(a.node);
  return {out.begin(), out.end()};
}

const JobState* RunState::job(std::string_view name) const {
  for (const auto& j : jobs) {
    if (j.name == name) return &j;
  }
  return nullptr;
}

std::uint64_t RunState::deadline_ms() const {
  switch (phase) {
    case RunPhase::queued:
      return created_ms;
    case RunPhase::assigned:
      return attempts.back().claim_by_ms;
    case RunPhase::running:
      return attempts.back().lease_until_ms;
    default:
      return 0;
  }
}

std::string apply_record(RunState& s, const Record& r, const Envelope& from) {
  if (r.run != s.id) return "record for another run";
  std::string why;
  if (const auto* c = std::get_if<RunCreated>(&r.body)) {
    why = on_created(s, *c, from);
  } else if (!s.created) {
    why = "record before run.created";
  } else if (const auto* a = std::get_if<RunAssigned>(&r.body)) {
    why = on_assigned(s, *a, from);
  } else if (const auto* cl = std::get_if<RunClaimed>(&r.body)) {
    why = on_claimed(s, *cl, from);
  } else if (const auto* d = std::get_if<RunDeclined>(&r.body)) {
    why = on_declined(s, *d, from);
  } else if (const auto* l = std::get_if<LeaseRenewed>(&r.body)) {
    why = on_lease(s, *l, from);
  } else if (const auto* u = std::get_if<JobUpdate>(&r.body)) {
    why = on_job(s, *u, from);
  } else if (const auto* e = std::get_if<RunEnded>(&r.body)) {
    why = on_ended(s, *e, from);
  } else if (const auto* x = std::get_if<CancelRequested>(&r.body)) {
    why = on_cancel(s, *x, from);
  } else {
    why = "not a run control record";
  }
  if (why.empty()) s.updated_ms = std::max(s.updated_ms, from.wall_ms);
  return why;
}

}  // namespace mesh::ci
