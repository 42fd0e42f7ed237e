// The runner registry: the runners this node offers (registered by runner plugins), and the
// jobs an orchestrator (the ci plugin, or anyone's) hands them. Knows nothing of plugins: the
// plugin host adapts the ABI's mesh_runner/mesh_job to these types.
//
// Guarantees, whatever the runner does:
//  - each job runs on a thread of its own (a runner's run() may block as long as the job runs);
//  - the submitter's Sink sees the job's output with every secret masked, in order, and then
//    exactly one done() — also when the runner never reports, hangs past its timeout or is
//    removed (its plugin stopped);
//  - a job's timeout and a cancel only *signal* the runner (Runner::cancel); if the runner has
//    not reported kill_grace later, the registry ends the job itself and ignores the rest.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mesh/base/result.hpp"

namespace mesh::jobs {

// The ABI's MESH_JOB_* values.
enum class Outcome : std::uint32_t {
  passed = 0,
  failed = 1,
  cancelled = 2,
  timed_out = 3,
  error = 4
};
std::string_view outcome_name(Outcome o);

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct JobSpec {
  std::string run_id;
  std::string job_name;
  std::string repo;
  std::string sha;
  std::string mode;
  std::string image;
  std::string workdir;
  std::vector<std::string> commands;
  Pairs env;
  Pairs secrets;                         // masked in every log chunk
  std::chrono::milliseconds timeout{0};  // 0: none
};

struct Runner {
  std::string name;   // unique on this node: [a-z0-9][a-z0-9-]{0,31}
  std::string owner;  // who registered it (a plugin id)
  std::vector<std::string> modes;
  std::vector<std::string> labels;
  unsigned slots = 1;  // 1..64
  // Runs one job on its own thread; reports through Registry::log and Registry::finish.
  std::function<void(std::uint64_t job_id, const JobSpec& job)> run;
  // Asks a running job to stop; must return at once.
  std::function<void(std::uint64_t job_id)> cancel;
};

// Where a job's results go. Calls for one job never overlap and come in order: log()s, then
// exactly one done(). They may come from any thread (the runner's job thread, the watchdog, a
// canceller): hand them on, don't block long.
struct Sink {
  std::function<void(std::string chunk)> log;
  std::function<void(Outcome outcome, int exit_code, std::string reason)> done;
};

struct RunnerInfo {
  std::string name;
  std::string owner;
  std::vector<std::string> modes;
  std::vector<std::string> labels;
  unsigned slots = 0;
  unsigned free = 0;  // slots minus jobs whose run() has not returned yet
};

struct JobInfo {
  std::uint64_t id = 0;
  std::string runner;
  std::string submitter;
  std::string run_id;
  std::string job_name;
};

struct Options {
  std::size_t max_jobs = 256;  // on this node, across runners
  std::size_t max_runners = 64;
  // How long a runner has to report after a cancel or a timeout before the registry ends the
  // job on its own.
  std::chrono::milliseconds kill_grace{10'000};
  // How long remove_runner()/remove_owner() wait for run() calls to return.
  std::chrono::milliseconds stop_wait{15'000};
};

bool valid_runner_name(std::string_view name);
// Validates a runner's description (name, modes, labels, slots) before it is registered.
Status validate_runner(const Runner& r);
// Validates a job's description (sizes and counts) before it is submitted.
Status validate_job(const JobSpec& j);

class Registry {
 public:
  explicit Registry(Options options = {});
  ~Registry();  // cancels every job, waits up to stop_wait for their threads
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Errc::exists for a taken name, Errc::limit past max_runners, Errc::invalid for a bad one.
  Status add_runner(Runner runner);
  // Cancels the runner's jobs (their submitters get done(cancelled, "runner ... stopped")),
  // waits up to stop_wait for its run() calls to return, then forgets it. Errc::not_found.
  Status remove_runner(std::string_view name, std::string_view owner);
  // remove_runner for every runner of `owner` (a plugin that stops).
  void remove_owner(std::string_view owner);

  std::vector<RunnerInfo> runners() const;
  std::vector<JobInfo> jobs() const;

  // Starts the job on the runner's thread. Errc::not_found (no such runner), Errc::invalid
  // (mode not offered, bad spec), Errc::limit (no free slot, or max_jobs).
  Result<std::uint64_t> submit(std::string_view runner, JobSpec spec, Sink sink,
                               std::string submitter);
  // Cancels a job of `submitter`: done(cancelled) follows (at the latest kill_grace later).
  Status cancel(std::uint64_t job_id, std::string_view submitter);
  // Cancels every job `submitter` submitted (the submitting plugin stops).
  void cancel_submitter(std::string_view submitter);

  // From the runner (owner = the runner's owner): output of a running job. Errc::not_found once
  // the job has ended (also when the registry ended it).
  Status log(std::uint64_t job_id, std::string_view data, std::string_view owner);
  Status finish(std::uint64_t job_id, Outcome outcome, int exit_code, std::string reason,
                std::string_view owner);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mesh::jobs
