// runner-shell: runs a job's commands with `sh -e` in the job's worktree, as the user the
// daemon runs as. That means teammates' pipelines run code on this machine, which is why no
// runner plugin is enabled by default (docs/ci.md "Who runs what").
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>

#include "job_files.hpp"
#include "job_process.hpp"
#include "mesh/plugin.hpp"
#include "mesh/plugin_jobs.hpp"
#include "runner_settings.hpp"

namespace mesh::runner {
namespace {

class ShellRunner : public sdk::Plugin {
 public:
  static void check_config(const std::string& json) {
    (void)parse_runner_settings(json, "shell", false);
  }

  void start() override {
    RunnerSettings s;
    try {
      s = parse_runner_settings(host().config_json(), "shell", false);
    } catch (const std::invalid_argument& e) {
      throw sdk::Error(MESH_E_INVALID, e.what());
    }
    data_dir_ = host().data_dir();
    std::string err;
    if (!JobFiles::prepare_root(data_dir_, &err)) throw sdk::Error(MESH_E_INTERNAL, err);
    runner_.add(
        host(), {s.name, {"shell"}, s.labels, s.slots}, [this](const sdk::Job& j) { run(j); },
        [this](uint64_t id) { cancel(id); });
  }

 private:
  void run(const sdk::Job& job) {
    JobFiles files(data_dir_, job.id());
    if (!files.ok() || !files.write("job.sh", job_script(job.commands()))) {
      job.done(sdk::JobOutcome::error, -1, files.error());
      return;
    }
    ProcessSpec spec;
    spec.argv = {"/bin/sh", "-e", (files.dir() / "job.sh").string()};
    spec.cwd = std::string(job.workdir());
    spec.env = job.env();
    for (auto& kv : job.secrets()) spec.env.push_back(std::move(kv));
    auto proc = std::make_shared<JobProcess>();
    {
      std::lock_guard lock(mu_);
      running_[job.id()] = proc;
      if (cancelled_early_.erase(job.id())) proc->cancel();  // cancelled before run() began
    }
    ProcessResult r = proc->run(spec, [&job](std::string_view out) { (void)job.log(out); });
    {
      std::lock_guard lock(mu_);
      running_.erase(job.id());
    }
    if (r.cancelled)
      job.done(sdk::JobOutcome::cancelled, r.exit_code, "cancelled");
    else if (!r.started)
      job.done(sdk::JobOutcome::error, -1, r.error);
    else if (r.exit_code == 0)
      job.done(sdk::JobOutcome::passed, 0);
    else
      job.done(sdk::JobOutcome::failed, r.exit_code, "exit code " + std::to_string(r.exit_code));
  }

  void cancel(uint64_t id) {
    std::shared_ptr<JobProcess> p;
    {
      std::lock_guard lock(mu_);
      auto it = running_.find(id);
      if (it != running_.end())
        p = it->second;
      else
        cancelled_early_.insert(id);
    }
    if (p) p->cancel();
  }

  sdk::Runner runner_;
  std::string data_dir_;
  std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<JobProcess>> running_;
  std::set<uint64_t> cancelled_early_;  // the host only cancels its live jobs: bounded
};

}  // namespace
}  // namespace mesh::runner

MESH_PLUGIN(mesh::runner::ShellRunner, "runner-shell", MESH_VERSION);
