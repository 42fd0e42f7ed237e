// The runner registry (registry.hpp). One mutex guards the tables; each job has its own mutex
// that orders the calls into its Sink (log... then done), so output never overtakes the end and
// nothing is delivered after it. A watchdog thread enforces timeouts and kill grace periods and
// joins the threads of jobs whose run() returned.
#include "mesh/jobs/registry.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "job_limits.hpp"
#include "secret_masker.hpp"

namespace mesh::jobs {
namespace {

using Clock = std::chrono::steady_clock;

// Why the registry asked a job to stop.
enum class Stop { none, cancel, timeout, runner_gone };

struct Job {
  std::uint64_t id = 0;
  std::string runner;
  std::string owner;
  std::string submitter;
  JobSpec spec;
  std::function<void(std::uint64_t)> cancel_fn;

  std::mutex out_mu;  // orders Sink calls; guards masker and ended
  Sink sink;
  std::unique_ptr<SecretMasker> masker;
  bool ended = false;

  // Guarded by Impl::mu.
  Stop stop = Stop::none;
  std::optional<Clock::time_point> timeout_at;
  std::optional<Clock::time_point> force_at;  // end it ourselves if the runner has not
  bool returned = false;                      // run() came back
  std::thread thread;
};

std::string describe_timeout(std::chrono::milliseconds t) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(t).count();
  if (s % 3600 == 0 && s >= 3600) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0 && s >= 60) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::passed:
      return "passed";
    case Outcome::failed:
      return "failed";
    case Outcome::cancelled:
      return "cancelled";
    case Outcome::timed_out:
      return "timed-out";
    case Outcome::error:
      return "error";
  }
  return "error";
}

struct Registry::Impl : std::enable_shared_from_this<Impl> {
  explicit Impl(Options o) : options(o) {}

  const Options options;
  mutable std::mutex mu;
  std::condition_variable cv;  // job returned, deadline added, stopping
  std::map<std::string, Runner, std::less<>> runners;
  std::map<std::string, unsigned, std::less<>> busy;  // runner -> threads not yet returned
  std::map<std::uint64_t, std::shared_ptr<Job>> jobs;
  std::uint64_t next_id = 1;
  bool stopping = false;
  std::thread watchdog;

  std::shared_ptr<Job> find(std::uint64_t id) {
    std::lock_guard lock(mu);
    auto it = jobs.find(id);
    return it == jobs.end() ? nullptr : it->second;
  }

  // Delivers the end of a job once: the masker's held-back tail, then done().
  static bool end_job(Job& job, Outcome outcome, int exit_code, std::string reason) {
    std::lock_guard lock(job.out_mu);
    if (job.ended) return false;
    job.ended = true;
    if (job.masker) {
      std::string rest = job.masker->finish();
      if (!rest.empty() && job.sink.log) job.sink.log(std::move(rest));
    }
    if (job.sink.done) job.sink.done(outcome, exit_code, std::move(reason));
    return true;
  }

  // Asks the runner to stop and arms the grace period; mu must NOT be held (cancel_fn is the
  // runner's code).
  void signal_stop(const std::shared_ptr<Job>& job, Stop why) {
    {
      std::lock_guard lock(mu);
      if (job->returned || job->stop != Stop::none) return;
      job->stop = why;
      job->force_at = Clock::now() + options.kill_grace;
    }
    cv.notify_all();
    if (job->cancel_fn) {
      try {
        job->cancel_fn(job->id);
      } catch (...) {
        spdlog::warn("runner '{}' threw from cancel of job {}", job->runner, job->id);
      }
    }
  }

  std::string stop_reason(const Job& job, Stop why) const {
    switch (why) {
      case Stop::timeout:
        return "timed out after " + describe_timeout(job.spec.timeout);
      case Stop::runner_gone:
        return "runner '" + job.runner + "' stopped";
      default:
        return "cancelled";
    }
  }

  void run_thread(const std::shared_ptr<Job>& job,
                  std::function<void(std::uint64_t, const JobSpec&)> run) {
    try {
      run(job->id, job->spec);
    } catch (const std::exception& e) {
      spdlog::error("runner '{}' threw from run of job {}: {}", job->runner, job->id, e.what());
    } catch (...) {
      spdlog::error("runner '{}' threw from run of job {}", job->runner, job->id);
    }
    Stop why;
    {
      std::lock_guard lock(mu);
      why = job->stop;
    }
    if (why != Stop::none)
      end_job(*job, why == Stop::timeout ? Outcome::timed_out : Outcome::cancelled, -1,
              stop_reason(*job, why));
    else
      end_job(*job, Outcome::error, -1, "runner '" + job->runner + "' returned without a result");
    {
      std::lock_guard lock(mu);
      job->returned = true;
      if (auto it = busy.find(job->runner); it != busy.end() && it->second > 0) --it->second;
    }
    cv.notify_all();
  }

  // Timeouts, grace periods and joins of returned threads.
  void watch() {
    std::unique_lock lock(mu);
    while (!stopping) {
      auto now = Clock::now();
      std::optional<Clock::time_point> wake;
      std::vector<std::shared_ptr<Job>> to_time_out, to_force;
      for (auto it = jobs.begin(); it != jobs.end();) {
        auto& job = it->second;
        if (job->returned) {
          if (job->thread.joinable()) job->thread.join();
          it = jobs.erase(it);
          continue;
        }
        if (job->stop == Stop::none && job->timeout_at) {
          if (*job->timeout_at <= now)
            to_time_out.push_back(job);
          else
            wake = std::min(wake.value_or(*job->timeout_at), *job->timeout_at);
        }
        if (job->force_at) {
          if (*job->force_at <= now)
            to_force.push_back(job);
          else
            wake = std::min(wake.value_or(*job->force_at), *job->force_at);
        }
        ++it;
      }
      if (!to_time_out.empty() || !to_force.empty()) {
        lock.unlock();
        for (auto& job : to_time_out) signal_stop(job, Stop::timeout);
        for (auto& job : to_force) {
          Stop why;
          {
            std::lock_guard l(mu);
            why = job->stop;
            job->force_at.reset();
          }
          if (end_job(*job, why == Stop::timeout ? Outcome::timed_out : Outcome::cancelled, -1,
                      stop_reason(*job, why) + "; the runner did not stop within " +
                          describe_timeout(options.kill_grace)))
            spdlog::warn("job {} on runner '{}' did not stop {} after it was asked to", job->id,
                         job->runner, describe_timeout(options.kill_grace));
        }
        lock.lock();
        continue;
      }
      if (wake)
        cv.wait_until(lock, *wake);
      else
        cv.wait(lock);
    }
  }

  // Cancels the given jobs as runner_gone and waits for their run() to return (bounded).
  void stop_jobs(const std::vector<std::shared_ptr<Job>>& list) {
    for (const auto& job : list) signal_stop(job, Stop::runner_gone);
    std::unique_lock lock(mu);
    cv.wait_for(lock, options.stop_wait, [&] {
      return std::all_of(list.begin(), list.end(), [](const auto& j) { return j->returned; });
    });
    std::vector<std::shared_ptr<Job>> stuck;
    for (const auto& job : list)
      if (!job->returned) stuck.push_back(job);
    lock.unlock();
    for (const auto& job : stuck) {
      spdlog::warn("job {} of runner '{}' still runs {} after its runner was removed", job->id,
                   job->runner, describe_timeout(options.stop_wait));
      end_job(*job, Outcome::cancelled, -1, stop_reason(*job, Stop::runner_gone));
    }
  }
};

bool valid_runner_name(std::string_view name) {
  return valid_token(name, 32);
}

Status validate_runner(const Runner& r) {
  if (!valid_runner_name(r.name))
    return make_error(Errc::invalid, "invalid runner name (expected [a-z0-9][a-z0-9-]{0,31})");
  if (r.modes.empty() || r.modes.size() > kMaxModes)
    return make_error(Errc::invalid, "a runner offers 1 to 16 modes");
  for (const auto& m : r.modes)
    if (!valid_token(m, 32))
      return make_error(Errc::invalid, "invalid mode (expected [a-z0-9][a-z0-9-]{0,31})");
  if (r.labels.size() > kMaxLabels) return make_error(Errc::invalid, "at most 32 labels");
  for (const auto& l : r.labels)
    if (!valid_label(l))
      return make_error(Errc::invalid, "invalid label (expected [A-Za-z0-9._-]{1,64})");
  if (r.slots < 1 || r.slots > kMaxSlots) return make_error(Errc::invalid, "slots must be 1..64");
  if (!r.run || !r.cancel) return make_error(Errc::invalid, "a runner needs run and cancel");
  return {};
}

Registry::Registry(Options options) : impl_(std::make_shared<Impl>(options)) {
  impl_->watchdog = std::thread([impl = impl_] { impl->watch(); });
}

Registry::~Registry() {
  std::vector<std::shared_ptr<Job>> all;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, job] : impl_->jobs) all.push_back(job);
  }
  impl_->stop_jobs(all);
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->watchdog.join();
  std::lock_guard lock(impl_->mu);
  for (auto& [id, job] : impl_->jobs) {
    if (!job->thread.joinable()) continue;
    if (job->returned)
      job->thread.join();
    else
      job->thread.detach();  // it holds the Impl alive; its calls find no job and return
  }
  impl_->jobs.clear();
}

Status Registry::add_runner(Runner runner) {
  if (auto st = validate_runner(runner); !st) return st;
  std::lock_guard lock(impl_->mu);
  if (impl_->runners.count(runner.name))
    return make_error(Errc::exists, "a runner named '" + runner.name + "' is already registered");
  if (impl_->runners.size() >= impl_->options.max_runners)
    return make_error(Errc::limit, "too many runners on this node");
  std::string name = runner.name;
  impl_->busy[name] = 0;
  impl_->runners.emplace(std::move(name), std::move(runner));
  return {};
}

Status Registry::remove_runner(std::string_view name, std::string_view owner) {
  std::vector<std::shared_ptr<Job>> list;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->runners.find(name);
    if (it == impl_->runners.end() || it->second.owner != owner)
      return make_error(Errc::not_found, "no runner named '" + std::string(name) + "'");
    impl_->runners.erase(it);  // no new jobs from here on
    for (auto& [id, job] : impl_->jobs)
      if (job->runner == name && !job->returned) list.push_back(job);
  }
  impl_->stop_jobs(list);
  std::lock_guard lock(impl_->mu);
  if (!impl_->runners.count(name)) impl_->busy.erase(std::string(name));
  return {};
}

void Registry::remove_owner(std::string_view owner) {
  std::vector<std::string> names;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& [name, r] : impl_->runners)
      if (r.owner == owner) names.push_back(name);
  }
  for (const auto& n : names) (void)remove_runner(n, owner);
}

std::vector<RunnerInfo> Registry::runners() const {
  std::lock_guard lock(impl_->mu);
  std::vector<RunnerInfo> out;
  for (const auto& [name, r] : impl_->runners) {
    unsigned used = 0;
    if (auto it = impl_->busy.find(name); it != impl_->busy.end()) used = it->second;
    out.push_back(
        {r.name, r.owner, r.modes, r.labels, r.slots, r.slots > used ? r.slots - used : 0});
  }
  return out;
}

std::vector<JobInfo> Registry::jobs() const {
  std::lock_guard lock(impl_->mu);
  std::vector<JobInfo> out;
  for (const auto& [id, job] : impl_->jobs)
    if (!job->returned)
      out.push_back({id, job->runner, job->submitter, job->spec.run_id, job->spec.job_name});
  return out;
}

Result<std::uint64_t> Registry::submit(std::string_view runner, JobSpec spec, Sink sink,
                                       std::string submitter) {
  if (auto st = validate_job(spec); !st) return st.error();
  auto job = std::make_shared<Job>();
  std::function<void(std::uint64_t, const JobSpec&)> run;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->runners.find(runner);
    if (it == impl_->runners.end())
      return make_error(Errc::not_found, "no runner named '" + std::string(runner) + "'");
    const Runner& r = it->second;
    if (std::find(r.modes.begin(), r.modes.end(), spec.mode) == r.modes.end())
      return make_error(Errc::invalid,
                        "runner '" + r.name + "' does not run mode '" + spec.mode + "'");
    unsigned& used = impl_->busy[r.name];
    if (used >= r.slots) return make_error(Errc::limit, "runner '" + r.name + "' has no free slot");
    std::size_t live = 0;
    for (const auto& [id, j] : impl_->jobs) live += j->returned ? 0 : 1;
    if (live >= impl_->options.max_jobs)
      return make_error(Errc::limit, "too many jobs on this node");
    job->id = impl_->next_id++;
    job->runner = r.name;
    job->owner = r.owner;
    job->submitter = std::move(submitter);
    job->cancel_fn = r.cancel;
    run = r.run;
    std::vector<std::string> values;
    for (const auto& [n, v] : spec.secrets) values.push_back(v);
    job->masker = std::make_unique<SecretMasker>(std::move(values));
    job->sink = std::move(sink);
    if (spec.timeout.count() > 0) job->timeout_at = Clock::now() + spec.timeout;
    job->spec = std::move(spec);
    ++used;
    impl_->jobs.emplace(job->id, job);
    // Started under the lock, so the watchdog cannot see the job before its thread exists.
    try {
      job->thread = std::thread([impl = impl_, job, run] { impl->run_thread(job, run); });
    } catch (const std::system_error& e) {
      --used;
      impl_->jobs.erase(job->id);
      return make_error(Errc::internal, std::string("cannot start a job thread: ") + e.what());
    }
  }
  impl_->cv.notify_all();
  return job->id;
}

Status Registry::cancel(std::uint64_t job_id, std::string_view submitter) {
  auto job = impl_->find(job_id);
  if (!job || job->submitter != submitter)
    return make_error(Errc::not_found, "no job " + std::to_string(job_id));
  {
    std::lock_guard lock(job->out_mu);
    if (job->ended) return make_error(Errc::not_found, "job " + std::to_string(job_id) + " ended");
  }
  impl_->signal_stop(job, Stop::cancel);
  return {};
}

void Registry::cancel_submitter(std::string_view submitter) {
  std::vector<std::shared_ptr<Job>> list;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, job] : impl_->jobs)
      if (job->submitter == submitter && !job->returned) list.push_back(job);
  }
  for (const auto& job : list) impl_->signal_stop(job, Stop::cancel);
}

Status Registry::log(std::uint64_t job_id, std::string_view data, std::string_view owner) {
  if (data.size() > kMaxLogCall) return make_error(Errc::limit, "at most 64 KiB per log call");
  auto job = impl_->find(job_id);
  if (!job || job->owner != owner)
    return make_error(Errc::not_found, "no job " + std::to_string(job_id));
  std::lock_guard lock(job->out_mu);
  if (job->ended) return make_error(Errc::not_found, "job " + std::to_string(job_id) + " ended");
  std::string out = job->masker ? job->masker->feed(data) : std::string(data);
  if (!out.empty() && job->sink.log) job->sink.log(std::move(out));
  return {};
}

Status Registry::finish(std::uint64_t job_id, Outcome outcome, int exit_code, std::string reason,
                        std::string_view owner) {
  if (static_cast<std::uint32_t>(outcome) > static_cast<std::uint32_t>(Outcome::error))
    return make_error(Errc::invalid, "unknown outcome");
  if (reason.size() > kMaxReason) reason.resize(kMaxReason);
  auto job = impl_->find(job_id);
  if (!job || job->owner != owner)
    return make_error(Errc::not_found, "no job " + std::to_string(job_id));
  Stop why;
  {
    std::lock_guard lock(impl_->mu);
    why = job->stop;
  }
  // A job that was asked to stop and then failed (it was killed) ended because we asked.
  if (why != Stop::none && outcome != Outcome::passed) {
    outcome = why == Stop::timeout ? Outcome::timed_out : Outcome::cancelled;
    reason = impl_->stop_reason(*job, why);
  }
  if (outcome != Outcome::passed && reason.empty())
    reason = outcome == Outcome::failed ? "exit code " + std::to_string(exit_code)
                                        : std::string(outcome_name(outcome));
  if (!Impl::end_job(*job, outcome, exit_code, std::move(reason)))
    return make_error(Errc::not_found, "job " + std::to_string(job_id) + " ended");
  return {};
}

}  // namespace mesh::jobs
