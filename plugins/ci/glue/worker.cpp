#include "worker.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <system_error>

#include "duration.hpp"
#include "ids.hpp"
#include "limits.hpp"
#include "names.hpp"
#include "text.hpp"

namespace mesh::ci {
namespace fs = std::filesystem;
namespace {

// A job's own variables (docs/ci.md, "A job's environment"): the job's env and what mesh sets.
// The host adds PATH, HOME, LANG, [runner] env_passthrough and the declared secrets.
std::vector<std::pair<std::string, std::string>> job_env(const Job& job, const RunCreated& spec,
                                                         const std::string& run,
                                                         std::uint32_t attempt) {
  std::map<std::string, std::string> env;
  for (const auto& [n, v] : job.env) env[n] = v;
  env["CI"] = "true";
  env["MESH_CI"] = "1";
  env["MESH_RUN"] = run;
  env["MESH_ATTEMPT"] = std::to_string(attempt);
  env["MESH_JOB"] = job.name;
  env["MESH_REPO"] = spec.repo;
  env["MESH_REF"] = spec.ref;
  env["MESH_SHA"] = spec.sha;
  for (const auto& s : job.secrets) env.erase(s);  // a declared secret wins
  return {env.begin(), env.end()};
}

bool same_needs(std::vector<std::string> a, std::vector<std::string> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

}  // namespace

Worker::Worker(Shared& s) : s_(s), work_root_(s.data_dir / "work") {
  // Worktrees of runs from before a restart belong to nobody now.
  std::error_code ec;
  fs::remove_all(work_root_, ec);
  fs::create_directories(work_root_, ec);
}

Worker::~Worker() {
  stop();
}

void Worker::background(std::function<void()> fn) {
  reap_threads();
  auto done = std::make_shared<std::atomic<bool>>(false);
  threads_.push_back(Bg{std::thread([fn = std::move(fn), done] {
                          fn();
                          done->store(true);
                        }),
                        done});
}

void Worker::reap_threads() {
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (it->done->load()) {
      it->t.join();
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
}

void Worker::stop() {
  std::list<Bg> threads;
  {
    std::lock_guard lock(s_.mu);
    stopping_ = true;
    for (auto& [id, e] : execs_) {
      e->abandoned = true;
      for (auto& j : e->jobs) {
        if (j.phase == JobPhase::running && j.host_id) s_.env.cancel_job(j.host_id);
      }
    }
    threads.swap(threads_);
  }
  for (auto& b : threads) b.t.join();
}

std::size_t Worker::running_jobs(const Exec& e) const {
  return static_cast<std::size_t>(std::count_if(
      e.jobs.begin(), e.jobs.end(), [](const JobRun& j) { return j.phase == JobPhase::running; }));
}

void Worker::update_busy() {
  std::uint32_t pending = 0;
  for (const auto& [id, e] : execs_) {
    if (e->abandoned || e->stage == Stage::done) continue;
    pending += running_jobs(*e) == 0;
  }
  s_.pending_claims = pending;
}

std::string Worker::runner_for(const Exec& e, const std::string& mode) const {
  for (const auto& [m, r] : e.runners) {
    if (m == mode) return r;
  }
  return {};
}

void Worker::on_change(const RunState& run) {
  if (stopping_) return;
  const Attempt* cur = run.current();
  auto it = execs_.find(run.id);
  if (it == execs_.end()) {
    if (is_terminal(run.phase) || !cur || cur->node != s_.self || cur->claimed ||
        !cur->declined.empty())
      return;
    auto e = std::make_shared<Exec>();
    e->run = run.id;
    e->attempt = cur->number;
    e->spec = run.spec;
    e->runners = cur->runners;
    e->since_mono = s_.mono_ms();
    execs_[run.id] = e;
    check(e);
    update_busy();
    return;
  }
  ExecPtr e = it->second;
  if (e->abandoned) return;
  if (is_terminal(run.phase) || !cur || cur->number != e->attempt || cur->node != s_.self) {
    if (e->stage != Stage::done) {
      s_.log(Level::info, "run " + short_run_id(run.id) + ": attempt " +
                              std::to_string(e->attempt) + " is no longer this node's (" +
                              std::string(to_string(run.phase)) + "); stopping its jobs");
    }
    abandon(e);
    return;
  }
  if (run.cancel && !e->cancelling && e->stage != Stage::checking) {
    e->cancelling = true;
    e->cancel_reason = run.cancel->reason.empty() ? "cancelled by " + s_.name_of(run.cancel->by)
                                                  : run.cancel->reason;
    for (auto& j : e->jobs) {
      if (j.phase == JobPhase::running && j.host_id) s_.env.cancel_job(j.host_id);
    }
    if (e->stage == Stage::running) schedule(e);
  }
}

void Worker::check(const ExecPtr& e) {
  const RunCreated& spec = e->spec;
  s_.refresh_members(true);  // what the host says now, not a second ago
  std::vector<std::string> labels;
  if (spec.fallback == Fallback::none) labels = spec.labels;
  for (const auto& job : spec.jobs) {
    std::string runner = runner_for(*e, job.mode);
    auto local = std::find_if(s_.local_runners().begin(), s_.local_runners().end(),
                              [&](const RunnerInfo& r) { return r.name == runner; });
    if (local == s_.local_runners().end() ||
        std::find(local->modes.begin(), local->modes.end(), job.mode) == local->modes.end())
      return decline(e, "no runner " + runner + " for mode " + job.mode + " on this node");
    if (!s_.runs_jobs())
      return decline(e, "this node runs no jobs ([runner] enabled = false in its mesh.toml)");
    for (const auto& l : labels) {
      if (std::find(local->labels.begin(), local->labels.end(), l) == local->labels.end())
        return decline(e, "runner " + runner + " here does not have the label " + l);
    }
  }
  if (!s_.git.has_commit(spec.repo, spec.sha)) {
    if (!e->sync_sent) {
      e->sync_sent = true;
      std::string err;
      s_.env.publish(kSyncTopic, "{\"repo\":\"" + spec.repo + "\"}", &err);
    }
    if (s_.mono_ms() - e->since_mono > s_.settings.commit_wait_ms)
      return decline(e, "commit " + spec.sha.substr(0, 12) + " did not reach this node within " +
                            format_duration(s_.settings.commit_wait_ms));
    return;  // wait for replication
  }
  RunClaimed c{e->attempt, s_.now_ms() + limits::kLeaseMs};
  if (!s_.publish(Record{e->run, c})) return;  // try again at the next tick
  e->stage = Stage::preparing;
  e->renewed_mono = s_.mono_ms();
  e->worktree = work_root_ / (short_run_id(e->run) + "-" + std::to_string(e->attempt));
  s_.log(Level::info, "run " + short_run_id(e->run) + ": claimed attempt " +
                          std::to_string(e->attempt) + " of " + spec.repo + " " + spec.ref + " " +
                          spec.sha.substr(0, 12));
  background([this, e] {
    std::error_code ec;
    fs::remove_all(e->worktree, ec);
    Status st = s_.git.checkout(e->spec.repo, e->spec.sha, e->worktree);
    PipelineAt at;
    if (st) at = read_pipeline(s_.git, e->spec.repo, e->spec.sha);
    std::lock_guard lock(s_.mu);
    prepared(e, st, std::move(at));
  });
}

void Worker::decline(const ExecPtr& e, const std::string& reason) {
  s_.log(Level::info, "run " + short_run_id(e->run) + ": declining attempt " +
                          std::to_string(e->attempt) + ": " + reason);
  s_.publish(Record{e->run, RunDeclined{e->attempt, clean_text(reason, limits::kReasonBytes)}});
  e->stage = Stage::done;
  execs_.erase(e->run);
  update_busy();
}

void Worker::prepared(const ExecPtr& e, const Status& checkout, PipelineAt at) {
  if (e->abandoned) return release(e);
  if (!checkout)
    return fail_run(
        e, "cannot check out " + e->spec.sha.substr(0, 12) + ": " + checkout.error().message);
  if (!at.present)
    return fail_run(e, "no " + std::string(kPipelinePath) + " at " + e->spec.sha.substr(0, 12));
  if (!at.pipeline) return fail_run(e, at.error);
  std::vector<DagNode> nodes;
  for (const auto& j : e->spec.jobs) {
    const Job* pj = at.pipeline->job(j.name);
    if (!pj || pj->mode != j.mode || !same_needs(pj->depends_on, j.needs))
      return fail_run(e, "the pipeline at " + e->spec.sha.substr(0, 12) +
                             " does not match the run (job " + j.name + ")");
    nodes.push_back({j.name, j.needs});
    JobRun jr;
    jr.name = j.name;
    e->jobs.push_back(std::move(jr));
  }
  auto dag = Dag::build(nodes);
  if (!dag) return fail_run(e, "the run's jobs: " + dag.error().message);
  e->dag = std::move(*dag);
  e->pipeline = std::move(at.pipeline);
  e->stage = Stage::running;
  schedule(e);
}

void Worker::schedule(const ExecPtr& e) {
  if (e->stage != Stage::running || e->abandoned) return;
  std::vector<JobPhase> phases;
  for (const auto& j : e->jobs) phases.push_back(j.phase);
  if (e->cancelling) {
    if (running_jobs(*e) == 0) finish(e);
    return;
  }
  for (auto i : e->dag.doomed(phases)) {
    JobRun& j = e->jobs[i];
    std::string failed_dep;
    for (auto n : e->dag.needs(i)) {
      if (phases[n] != JobPhase::passed && is_terminal(phases[n])) failed_dep = e->jobs[n].name;
    }
    j.phase = JobPhase::skipped;
    phases[i] = j.phase;
    j.reason = "dependency " + failed_dep + " did not pass";
    JobUpdate u{e->attempt, j.name, JobPhase::skipped, std::nullopt, 0, s_.now_ms(), j.reason};
    s_.publish(Record{e->run, u});
  }
  if (e->dag.finished(phases)) return finish(e);
  // The host caps jobs at once ([runner] max_concurrent_jobs): a busy runner says so and the
  // job waits for the next tick.
  for (auto i : e->dag.ready(phases, limits::kJobs)) {
    if (!start_job(e, i)) break;
  }
  update_busy();
  // Started jobs may have failed to start: that can doom others or finish the run.
  std::vector<JobPhase> after;
  for (const auto& j : e->jobs) after.push_back(j.phase);
  if (after != phases && running_jobs(*e) == 0) schedule(e);
}

bool Worker::start_job(const ExecPtr& e, std::size_t i) {
  JobRun& jr = e->jobs[i];
  const Job* job = e->pipeline->job(jr.name);
  JobSubmit js;
  js.run_id = e->run;
  js.job_name = job->name;
  js.repo = e->spec.repo;
  js.sha = e->spec.sha;
  js.mode = job->mode;
  js.image = job->image;
  js.workdir = e->worktree.string();
  js.commands = job->commands;
  js.env = job_env(*job, e->spec, e->run, e->attempt);
  js.secrets = job->secrets;
  js.timeout_ms = job->timeout_ms ? job->timeout_ms : limits::kDefaultTimeoutMs;
  std::string runner = runner_for(*e, job->mode);
  std::weak_ptr<Exec> weak = e;
  SubmitResult r = s_.env.submit_job(
      runner, js,
      [this, weak, i](std::string_view data) {
        std::lock_guard lock(s_.mu);
        if (auto ex = weak.lock()) on_log(ex, i, data);
      },
      [this, weak, i](JobOutcome o, std::int32_t code, std::string reason) {
        std::lock_guard lock(s_.mu);
        if (auto ex = weak.lock()) on_done(ex, i, o, code, reason);
      });
  if (r.busy) return false;
  std::uint64_t now = s_.now_ms();
  if (!r.error.empty()) {
    jr.phase = JobPhase::failed;
    jr.reason = clean_text("job " + jr.name + " did not start: " + r.error, limits::kReasonBytes);
    s_.publish(Record{
        e->run, JobUpdate{e->attempt, jr.name, JobPhase::failed, std::nullopt, 0, now, jr.reason}});
    return true;
  }
  jr.phase = JobPhase::running;
  jr.host_id = r.id;
  jr.started_ms = now;
  // The host cuts a job's output at [runner] job_log_max_bytes (and says so in it); this cap
  // only bounds what one job can make every node store.
  jr.segments.emplace(e->run, e->attempt, jr.name, limits::kMaxJobLogBytes);
  s_.publish(
      Record{e->run, JobUpdate{e->attempt, jr.name, JobPhase::running, std::nullopt, now, 0, {}}});
  return true;
}

void Worker::on_log(const ExecPtr& e, std::size_t i, std::string_view data) {
  if (e->abandoned || i >= e->jobs.size()) return;
  JobRun& j = e->jobs[i];
  if (j.phase != JobPhase::running || !j.segments) return;
  for (auto& seg : j.segments->add(data)) s_.publish(seg);
  // Live chunks stop where the stored log stops keeping output.
  std::uint64_t cap = limits::kMaxJobLogBytes;
  while (!data.empty() && j.live_offset < cap) {
    std::size_t n = std::min<std::size_t>(
        {data.size(), limits::kLiveChunkBytes, static_cast<std::size_t>(cap - j.live_offset)});
    s_.publish_live(
        LiveChunk{e->run, e->attempt, j.name, j.live_offset, std::string(data.substr(0, n))});
    j.live_offset += n;
    data.remove_prefix(n);
  }
}

void Worker::on_done(const ExecPtr& e, std::size_t i, JobOutcome outcome, std::int32_t code,
                     const std::string& reason) {
  if (i >= e->jobs.size()) return;
  JobRun& j = e->jobs[i];
  if (j.phase != JobPhase::running) return;
  if (e->abandoned) {
    j.phase = JobPhase::cancelled;
    if (running_jobs(*e) == 0) release(e);
    return;
  }
  if (j.segments) {
    for (auto& seg : j.segments->finish()) s_.publish(seg);
  }
  const Job* job = e->pipeline->job(j.name);
  switch (outcome) {
    case JobOutcome::passed:
      j.phase = JobPhase::passed;
      break;
    case JobOutcome::failed:
      j.phase = JobPhase::failed;
      j.reason = reason.empty() ? "exit code " + std::to_string(code) : reason;
      break;
    case JobOutcome::timed_out:
      j.phase = JobPhase::failed;
      j.reason =
          "timed out after " +
          format_duration(job && job->timeout_ms ? job->timeout_ms : limits::kDefaultTimeoutMs);
      break;
    case JobOutcome::cancelled:
      j.phase = JobPhase::cancelled;
      j.reason = e->cancelling ? e->cancel_reason : (reason.empty() ? "cancelled" : reason);
      break;
    case JobOutcome::error:
      j.phase = JobPhase::failed;
      j.reason = reason.empty() ? "the runner could not run it" : reason;
      break;
  }
  j.reason = clean_text(j.reason, limits::kReasonBytes);
  std::optional<std::int32_t> exit_code;
  if (code >= 0 || outcome == JobOutcome::passed || outcome == JobOutcome::failed) exit_code = code;
  s_.publish(Record{e->run, JobUpdate{e->attempt, j.name, j.phase, exit_code, j.started_ms,
                                      s_.now_ms(), j.reason}});
  schedule(e);
  update_busy();
}

void Worker::finish(const ExecPtr& e) {
  RunEnded end{e->attempt, RunPhase::passed, {}};
  if (e->cancelling) {
    end.state = RunPhase::cancelled;
    end.reason = e->cancel_reason;
  } else {
    for (const auto& j : e->jobs) {
      if (j.phase == JobPhase::passed) continue;
      end.state = RunPhase::failed;
      if (j.phase != JobPhase::skipped) {
        end.reason = "job " + j.name + " " + std::string(to_string(j.phase)) +
                     (j.reason.empty() ? "" : ": " + j.reason);
        break;
      }
    }
    if (end.state == RunPhase::failed && end.reason.empty()) end.reason = "jobs were skipped";
  }
  end.reason = clean_text(end.reason, limits::kReasonBytes);
  s_.publish(Record{e->run, end});
  s_.log(Level::info, "run " + short_run_id(e->run) + ": " + std::string(to_string(end.state)) +
                          (end.reason.empty() ? "" : " (" + end.reason + ")"));
  release(e);
}

void Worker::fail_run(const ExecPtr& e, const std::string& reason) {
  s_.publish(Record{
      e->run, RunEnded{e->attempt, RunPhase::failed, clean_text(reason, limits::kReasonBytes)}});
  s_.log(Level::warn, "run " + short_run_id(e->run) + ": failed: " + reason);
  release(e);
}

void Worker::abandon(const ExecPtr& e) {
  e->abandoned = true;
  bool any = false;
  for (auto& j : e->jobs) {
    if (j.phase == JobPhase::running && j.host_id) {
      s_.env.cancel_job(j.host_id);
      any = true;
    }
  }
  if (!any && e->stage != Stage::preparing) release(e);
  // A preparing exec is released when its checkout returns; running jobs when they end.
}

void Worker::release(const ExecPtr& e) {
  e->stage = Stage::done;
  auto it = execs_.find(e->run);
  if (it != execs_.end() && it->second == e) execs_.erase(it);
  update_busy();
  if (!e->worktree.empty() && !stopping_) {
    fs::path dir = e->worktree;
    background([dir] {
      std::error_code ec;
      fs::remove_all(dir, ec);
    });
  }
}

void Worker::repo_updated(const std::string& repo) {
  if (stopping_) return;
  std::vector<ExecPtr> waiting;
  for (auto& [id, e] : execs_) {
    if (e->stage == Stage::checking && !e->abandoned && e->spec.repo == repo) waiting.push_back(e);
  }
  for (auto& e : waiting) check(e);
}

void Worker::tick() {
  if (stopping_) return;
  reap_threads();
  std::vector<ExecPtr> all;
  for (auto& [id, e] : execs_) all.push_back(e);
  std::uint64_t now = s_.mono_ms();
  for (auto& e : all) {
    if (e->abandoned) continue;
    if (e->stage == Stage::checking) {
      check(e);
      continue;
    }
    if (now - e->renewed_mono >= limits::kRenewEveryMs) {
      if (s_.publish(Record{e->run, LeaseRenewed{e->attempt, s_.now_ms() + limits::kLeaseMs}}))
        e->renewed_mono = now;
    }
    if (e->stage == Stage::running) schedule(e);
  }
}

}  // namespace mesh::ci
