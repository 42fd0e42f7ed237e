// The assignee's duties (docs/ci.md, "Assignment and leases", "Execution"): when this node is
// assigned a run it checks that it still runs jobs of those modes, waits briefly for the commit to
// reach its mirror, claims (or declines), makes a fresh worktree at the sha, reads the pipeline
// there, and runs the jobs in DAG order through this node's runners, independent ones in parallel
// up to max_concurrent_jobs. It renews the lease, streams each job's log live and stores it in
// segments, reports every job, and ends the run. A cancel kills the running jobs; an attempt
// that is no longer current stops at once, silently (its records would be ignored anyway).
#pragma once

#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dag.hpp"
#include "job_log.hpp"
#include "pipeline_at.hpp"
#include "shared.hpp"

namespace mesh::ci {

class Worker {
 public:
  explicit Worker(Shared& s);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // (lock held) The fold changed `run`.
  void on_change(const RunState& run);
  // (lock held) About once a second: claims that wait for a commit, lease renewals, jobs that
  // wait for a free slot.
  void tick();
  // (lock held) Replication applied updates to `repo` here: assignments waiting for a commit
  // look again now rather than at the next tick.
  void repo_updated(const std::string& repo);
  // (lock not held) Cancels this node's jobs and waits for its threads; publishes nothing (the
  // originator reassigns the runs when their leases run out).
  void stop();
  // Runs this node holds an attempt of (for status).
  std::size_t active() const { return execs_.size(); }

 private:
  enum class Stage { checking, preparing, running, done };
  struct JobRun {
    std::string name;
    JobPhase phase = JobPhase::pending;
    std::uint64_t host_id = 0;
    std::uint64_t started_ms = 0;
    std::optional<LogSegmenter> segments;
    std::uint64_t live_offset = 0;
    std::string reason;
  };
  struct Exec {
    std::string run;
    std::uint32_t attempt = 0;
    RunCreated spec;
    std::vector<std::pair<std::string, std::string>> runners;  // mode -> runner
    Stage stage = Stage::checking;
    std::uint64_t since_mono = 0;
    bool sync_sent = false;
    std::uint64_t renewed_mono = 0;
    std::filesystem::path worktree;
    std::optional<Pipeline> pipeline;
    Dag dag;
    std::vector<JobRun> jobs;
    bool cancelling = false;
    std::string cancel_reason;
    bool abandoned = false;
  };
  using ExecPtr = std::shared_ptr<Exec>;

  void check(const ExecPtr& e);
  void decline(const ExecPtr& e, const std::string& reason);
  void prepared(const ExecPtr& e, const Status& checkout, PipelineAt at);
  void schedule(const ExecPtr& e);
  // True if the job started or failed to start; false if its runner is busy (try later).
  bool start_job(const ExecPtr& e, std::size_t i);
  void on_log(const ExecPtr& e, std::size_t i, std::string_view data);
  void on_done(const ExecPtr& e, std::size_t i, JobOutcome outcome, std::int32_t code,
               const std::string& reason);
  void finish(const ExecPtr& e);
  void fail_run(const ExecPtr& e, const std::string& reason);
  void abandon(const ExecPtr& e);
  void release(const ExecPtr& e);  // forgets the exec and removes its worktree
  std::size_t running_jobs(const Exec& e) const;
  std::string runner_for(const Exec& e, const std::string& mode) const;
  void update_busy();
  // Runs fn on a thread of its own (joined by stop()).
  void background(std::function<void()> fn);
  void reap_threads();

  Shared& s_;
  std::filesystem::path work_root_;
  std::map<std::string, ExecPtr> execs_;  // by run id
  struct Bg {
    std::thread t;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Bg> threads_;
  bool stopping_ = false;
};

}  // namespace mesh::ci
