#include "originator.hpp"

#include <algorithm>
#include <random>

#include "ids.hpp"
#include "limits.hpp"
#include "names.hpp"
#include "text.hpp"

namespace mesh::ci {
namespace {

constexpr std::uint64_t kActWaitMs = 15'000;  // how long a published step may take to come back
constexpr std::uint64_t kBudgetSlackMs = 10ull * 60 * 1000;

std::string first_line(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl) + " (and more)";
}

std::string random_nonce() {
  std::random_device rd;
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) out.push_back(hex[rd() & 15]);
  return out;
}

std::uint64_t pipeline_budget(const Pipeline& p, const RunCreated& c) {
  std::uint64_t total = 0;
  for (const auto& j : c.jobs) {
    const Job* job = p.job(j.name);
    total += job && job->timeout_ms ? job->timeout_ms : limits::kDefaultTimeoutMs;
  }
  return total + kBudgetSlackMs;
}

std::string minutes(std::uint64_t ms) {
  std::uint64_t m = (ms + 59'999) / 60'000;
  return m >= 60 ? std::to_string(m / 60) + "h" + (m % 60 ? std::to_string(m % 60) + "m" : "")
                 : std::to_string(m) + "m";
}

}  // namespace

std::vector<std::string> Originator::on_push(const RefsPush& push) {
  std::vector<std::string> notes;
  for (const auto& u : push.updates) {
    if (branch_of(u.ref).empty()) continue;  // tags never start runs
    PipelineAt at = read_pipeline(s_.git, push.repo, u.new_sha);
    if (!at.present) continue;
    Commit commit{push.repo, u.ref, u.new_sha};
    std::lock_guard lock(s_.mu);
    s_.refresh_members(true);
    if (!at.pipeline) {
      notes.push_back(create(plan_broken(commit, "push", trigger_key_push()), at.error, nullptr));
      continue;
    }
    auto c = plan_push(*at.pipeline, commit);
    if (!c) continue;  // the branch filter or on.push says no
    notes.push_back(create(*c, {}, &*at.pipeline));
  }
  return notes;
}

Result<std::string> Originator::run_manual(const std::string& repo, const std::string& what,
                                           const std::string& job) {
  if (!s_.git.exists(repo)) return fail("no repo " + repo + " on this node");
  auto ref = s_.git.resolve(repo, what);
  if (!ref) return ref.error();
  PipelineAt at = read_pipeline(s_.git, repo, ref->sha);
  if (!at.present)
    return fail("no " + std::string(kPipelinePath) + " in " + repo + " at " +
                ref->sha.substr(0, 12));
  if (!at.pipeline) return fail(at.error);
  Commit commit{repo, ref->ref, ref->sha};
  if (commit.ref.empty()) {
    // A bare sha: the run is recorded against the default branch's name it was started from.
    auto b = s_.git.default_branch(repo);
    commit.ref = "refs/heads/" + (b ? *b : std::string("main"));
  }
  std::lock_guard lock(s_.mu);
  s_.refresh_members(true);
  auto c = plan_manual(*at.pipeline, commit, job,
                       trigger_key_manual(s_.self, s_.now_ms(), random_nonce()));
  if (!c) return c.error();
  create(*c, {}, &*at.pipeline);
  return run_id(c->repo, c->ref, c->sha, c->trigger_key);
}

std::string Originator::create(const RunCreated& c, const std::string& broken,
                               const Pipeline* pipeline, const std::string& prefer) {
  const std::string id = run_id(c.repo, c.ref, c.sha, c.trigger_key);
  const std::string shown = "CI run " + short_run_id(id);
  if (const RunState* known = s_.book.find(id))
    return shown + " exists already (" + std::string(to_string(known->phase)) + ")";
  if (!s_.publish(Record{id, c})) return shown + " could not be recorded (see the node's log)";
  Memo& m = memo_[id];
  m.waiting_since = s_.mono_ms();
  if (!broken.empty()) {
    RunEnded e{0, RunPhase::failed, clean_text(broken, limits::kReasonBytes)};
    s_.publish(Record{id, e});
    m.acted = "ended";
    m.acted_at = s_.mono_ms();
    return shown + " failed: " + first_line(e.reason);
  }
  if (pipeline) {
    m.budget_ms = pipeline_budget(*pipeline, c);
    m.budget_read = true;
  }
  std::string list;
  for (const auto& j : c.jobs) list += (list.empty() ? "" : ", ") + j.name;
  std::string why;
  std::string node = assign(id, c, 1, {}, {}, prefer, &why, m);
  m.acted = "queued#0";
  m.acted_at = s_.mono_ms();
  if (!node.empty()) return shown + " queued (" + list + ") -> " + s_.name_of(node);
  if (why.rfind("no-runner:", 0) == 0) return shown + " no-runner: " + why.substr(11);
  m.acted.clear();  // waiting: try again as heartbeats change
  return shown + " queued (" + list + "), waiting: " + why;
}

std::string Originator::assign(const std::string& id, const RunCreated& spec, std::uint32_t attempt,
                               const std::vector<std::string>& exclude, const std::string& why,
                               const std::string& prefer, std::string* decision_reason, Memo& m) {
  Requirements req = requirements_of(spec);
  auto nodes = s_.nodes();
  Decision d;
  if (!prefer.empty()) {
    std::vector<NodeInfo> only;
    for (const auto& n : nodes) {
      if (n.id == prefer) only.push_back(n);
    }
    d = decide_assignment(req, only, exclude, id);
    if (d.kind != Decision::Kind::assign) d = decide_assignment(req, nodes, exclude, id);
  } else {
    d = decide_assignment(req, nodes, exclude, id);
  }
  if (d.kind == Decision::Kind::assign) {
    RunAssigned a;
    a.attempt = attempt;
    a.node = d.pick.node;
    a.runners = d.pick.runners;
    a.claim_by_ms = s_.now_ms() + limits::kClaimWindowMs;
    a.reason = clean_text(why, limits::kReasonBytes);
    if (attempt > 1 && a.reason.empty()) a.reason = "reassigned";
    if (!s_.publish(Record{id, a})) {
      *decision_reason = "the assignment could not be published";
      return {};
    }
    s_.reserve(a.node, id);
    m.assigned_attempt = attempt;
    m.assigned_mono = s_.mono_ms();
    m.waiting_since = 0;
    return a.node;
  }
  if (d.kind == Decision::Kind::wait) {
    *decision_reason = d.reason;
    if (m.waiting_since == 0) m.waiting_since = s_.mono_ms();
    return {};
  }
  // Nothing eligible is up.
  *decision_reason = "no-runner: " + d.reason;
  if (attempt == 1) {
    s_.publish(
        Record{id, RunEnded{0, RunPhase::no_runner, clean_text(d.reason, limits::kReasonBytes)}});
  }
  return {};
}

std::string Originator::step_key(const RunState& run) {
  const Attempt* cur = run.current();
  std::string k = std::string(to_string(run.phase)) + "#" + std::to_string(run.attempts.size());
  if (cur && !cur->declined.empty()) k += "d";
  if (run.cancel) k += "c";
  return k;
}

void Originator::acted(const RunState& run, Memo& m) {
  m.acted = step_key(run);
  m.acted_at = s_.mono_ms();
}

void Originator::end(const RunState& run, RunPhase state, const std::string& reason, Memo& m) {
  RunEnded e{run.attempt_number(), state, clean_text(reason, limits::kReasonBytes)};
  if (s_.publish(Record{run.id, e})) acted(run, m);
}

std::uint64_t Originator::budget(const RunState& run, Memo& m) {
  if (!m.budget_read) {
    m.budget_read = true;
    PipelineAt at = read_pipeline(s_.git, run.spec.repo, run.spec.sha);
    if (at.pipeline) m.budget_ms = pipeline_budget(*at.pipeline, run.spec);
  }
  return m.budget_ms;
}

void Originator::on_record(const RunState& run, const Envelope& from) {
  if (run.originator != s_.self) return;
  Memo& m = memo_[run.id];
  if (!run.assignee().empty() && from.origin == run.assignee()) {
    m.heard_attempt = run.attempt_number();
    m.heard_mono = s_.mono_ms();
  }
  if (is_terminal(run.phase)) {
    memo_.erase(run.id);
    s_.release(run.id);  // its runner's slot is free again, whatever its heartbeat says yet
    return;
  }
  step(run);
}

void Originator::step(const RunState& run) {
  if (is_terminal(run.phase) || !run.created) {
    memo_.erase(run.id);
    return;
  }
  Memo& m = memo_[run.id];
  if (!m.acted.empty() && m.acted == step_key(run) && s_.mono_ms() - m.acted_at < kActWaitMs)
    return;  // this node's record for this step is on its way
  if (run.originator == s_.self) {
    step_own(run, m);
  } else {
    reap_orphan(run, m);
  }
}

void Originator::step_own(const RunState& run, Memo& m) {
  const std::uint64_t now = s_.mono_ms();
  const Attempt* cur = run.current();
  const std::string who = cur ? s_.name_of(cur->node) : std::string();
  if (run.cancel) {
    std::string why = run.cancel->reason.empty() ? "cancelled by " + s_.name_of(run.cancel->by)
                                                 : run.cancel->reason;
    if (run.phase == RunPhase::queued || run.phase == RunPhase::assigned)
      return end(run, RunPhase::cancelled, why, m);
  }
  if (m.waiting_since == 0 && run.phase == RunPhase::queued) m.waiting_since = now;
  switch (run.phase) {
    case RunPhase::queued: {
      if (now - m.waiting_since > s_.settings.queue_timeout_ms)
        return end(run, RunPhase::failed,
                   "no runner was free for " + minutes(s_.settings.queue_timeout_ms), m);
      std::string why;
      if (!assign(run.id, run.spec, 1, {}, {}, {}, &why, m).empty() ||
          why.rfind("no-runner:", 0) == 0)
        acted(run, m);
      return;
    }
    case RunPhase::assigned: {
      if (!cur->declined.empty()) return reassign(run, who + " declined: " + cur->declined, m);
      bool late = m.assigned_attempt == cur->number ? now - m.assigned_mono > limits::kClaimWindowMs
                                                    : s_.now_ms() > cur->claim_by_ms;
      if (late)
        return reassign(run,
                        who + " did not claim the run within " +
                            std::to_string(limits::kClaimWindowMs / 1000) + " s",
                        m);
      return;
    }
    case RunPhase::running: {
      if (m.heard_attempt != cur->number) {
        m.heard_attempt = cur->number;
        m.heard_mono = now;  // first sight (e.g. after a restart): a full lease from now
      }
      if (now - m.heard_mono > limits::kLeaseMs) {
        std::string why = who + " lost the lease (not heard from for " +
                          std::to_string(limits::kLeaseMs / 1000) + " s)";
        if (run.cancel) return end(run, RunPhase::cancelled, why + " after the cancel", m);
        return reassign(run, why, m);
      }
      std::uint64_t b = budget(run, m);
      if (b && cur->claimed_ms && s_.now_ms() > cur->claimed_ms + b)
        return end(run, RunPhase::failed,
                   "over its time: it has run for more than " + minutes(b) +
                       " (the jobs' timeouts and 10m)",
                   m);
      return;
    }
    default:
      return;
  }
}

void Originator::reassign(const RunState& run, const std::string& why, Memo& m) {
  std::string history;
  for (std::size_t i = 1; i < run.attempts.size(); ++i) {
    if (!run.attempts[i].reassign_reason.empty())
      history += "attempt " + std::to_string(i) + ": " + run.attempts[i].reassign_reason + "; ";
  }
  history += "attempt " + std::to_string(run.attempt_number()) + ": " + why;
  if (run.attempt_number() >= limits::kMaxAttempts)
    return end(run, RunPhase::failed,
               history + "; gave up after " + std::to_string(limits::kMaxAttempts) + " attempts",
               m);
  std::string reason;
  std::string node =
      assign(run.id, run.spec, run.attempt_number() + 1, run.tried_nodes(), why, {}, &reason, m);
  if (!node.empty()) {
    s_.log(Level::info,
           "run " + short_run_id(run.id) + ": " + why + "; reassigned to " + s_.name_of(node));
    return acted(run, m);
  }
  if (reason.rfind("no-runner:", 0) == 0)
    return end(run, RunPhase::failed, history + "; no other runner: " + reason.substr(11), m);
  if (s_.mono_ms() - m.waiting_since > s_.settings.queue_timeout_ms)
    return end(run, RunPhase::failed, history + "; no other runner was free", m);
}

void Originator::reap_orphan(const RunState& run, Memo& m) {
  if (s_.is_up(run.originator)) return;
  std::uint64_t deadline = run.deadline_ms();
  if (!deadline || s_.now_ms() < deadline + limits::kOrphanGraceMs + 1000) return;
  std::string why = "orphaned: its originator " + s_.name_of(run.originator) + " is down";
  if (!run.assignee().empty()) why += " and " + s_.name_of(run.assignee()) + " stopped reporting";
  end(run, run.cancel ? RunPhase::cancelled : RunPhase::failed, why, m);
}

}  // namespace mesh::ci
