// runner-docker: runs a job in a container through the docker CLI (`docker run --rm`, the
// worktree mounted at /workspace, an --env-file), so any Docker-API engine works: Docker itself,
// or podman's compatible service (how the tests run it: docs/ci.md).
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>

#include "docker_command.hpp"
#include "job_files.hpp"
#include "job_process.hpp"
#include "mesh/plugin.hpp"
#include "mesh/plugin_jobs.hpp"
#include "runner_settings.hpp"

namespace mesh::runner {
namespace {

bool valid_image(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '/' || c == ':' || c == '@' || c == '+' || c == '-';
  };
  for (char c : s)
    if (!ok(c)) return false;
  return s[0] != '-' && s[0] != '.' && s[0] != '/';
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

class DockerRunner : public sdk::Plugin {
 public:
  static void check_config(const std::string& json) {
    (void)parse_runner_settings(json, "docker", true);
  }

  void start() override {
    try {
      settings_ = parse_runner_settings(host().config_json(), "docker", true);
    } catch (const std::invalid_argument& e) {
      throw sdk::Error(MESH_E_INVALID, e.what());
    }
    auto cli = find_program(settings_.docker, env_or("PATH", "/usr/local/bin:/usr/bin:/bin"));
    if (!cli)
      throw sdk::Error(MESH_E_UNSUPPORTED,
                       "docker: the docker CLI '" + settings_.docker + "' was not found on PATH");
    docker_ = *cli;
    data_dir_ = host().data_dir();
    std::string err;
    if (!JobFiles::prepare_root(data_dir_, &err)) throw sdk::Error(MESH_E_INTERNAL, err);
    // Container names must be unique on the machine, which several nodes may share.
    std::random_device rd;
    char tag[9];
    std::snprintf(tag, sizeof tag, "%08x", rd());
    instance_ = tag;
    // What the docker CLI itself needs to reach its engine; nothing else of the daemon's.
    for (const char* name : {"DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY",
                             "DOCKER_CERT_PATH", "HOME", "PATH", "XDG_RUNTIME_DIR"})
      if (const char* v = std::getenv(name); v && *v) cli_env_.emplace_back(name, v);
    runner_.add(
        host(), {settings_.name, {"docker"}, settings_.labels, settings_.slots},
        [this](const sdk::Job& j) { run(j); }, [this](uint64_t id) { cancel(id); });
  }

 private:
  void run(const sdk::Job& job) {
    if (!valid_image(job.image()))
      return (void)job.done(sdk::JobOutcome::error, -1,
                            "docker jobs need an image name ([A-Za-z0-9._/:@+-], ≤ 255)");
    if (!mountable(std::string(job.workdir())))
      return (void)job.done(sdk::JobOutcome::error, -1,
                            "the worktree path cannot be mounted (',' or ':' in it)");
    JobFiles files(data_dir_, job.id());
    std::string why;
    auto env = env_file(job.env(), job.secrets(), &why);
    if (!env) return (void)job.done(sdk::JobOutcome::error, -1, why);
    if (!files.ok() || !files.write("job.sh", job_script(job.commands())) ||
        !files.write("env", *env))
      return (void)job.done(sdk::JobOutcome::error, -1, files.error());
    if (!mountable(files.dir().string()))
      return (void)job.done(sdk::JobOutcome::error, -1,
                            "the runner's data directory cannot be mounted");

    DockerJob dj;
    dj.docker = docker_;
    dj.container = "mesh-" + instance_ + "-" + std::to_string(job.id());
    dj.image = std::string(job.image());
    dj.workdir = std::string(job.workdir());
    dj.job_dir = files.dir().string();
    dj.network = settings_.network;
    dj.pull = settings_.pull;
    dj.user = std::to_string(::getuid()) + ":" + std::to_string(::getgid());
    ProcessSpec spec;
    spec.argv = docker_run_argv(dj);
    spec.cwd = dj.workdir;
    spec.env = cli_env_;
    auto proc = std::make_shared<JobProcess>();
    {
      std::lock_guard lock(mu_);
      running_[job.id()] = proc;
      if (cancelled_early_.erase(job.id())) proc->cancel();
    }
    ProcessResult r = proc->run(spec, [&job](std::string_view out) { (void)job.log(out); });
    {
      std::lock_guard lock(mu_);
      running_.erase(job.id());
    }
    if (r.cancelled && r.started) {
      // Killing the CLI does not stop the container: kill it and make sure it is gone.
      quiet(docker_kill_argv(docker_, dj.container));
      quiet(docker_rm_argv(docker_, dj.container));
    }
    if (r.cancelled)
      job.done(sdk::JobOutcome::cancelled, r.exit_code, "cancelled");
    else if (!r.started)
      job.done(sdk::JobOutcome::error, -1, r.error);
    else if (r.exit_code == 0)
      job.done(sdk::JobOutcome::passed, 0);
    else if (r.exit_code == 125)
      job.done(sdk::JobOutcome::error, 125, "docker could not run the container (see the log)");
    else
      job.done(sdk::JobOutcome::failed, r.exit_code, "exit code " + std::to_string(r.exit_code));
  }

  // Runs a docker housekeeping command to completion, output discarded.
  void quiet(std::vector<std::string> argv) {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.cwd = "/";
    spec.env = cli_env_;
    JobProcess p;
    (void)p.run(spec, [](std::string_view) {});
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
  RunnerSettings settings_;
  std::string docker_;
  std::string data_dir_;
  std::string instance_;
  std::vector<std::pair<std::string, std::string>> cli_env_;
  std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<JobProcess>> running_;
  std::set<uint64_t> cancelled_early_;  // the host only cancels its live jobs: bounded
};

}  // namespace
}  // namespace mesh::runner

MESH_PLUGIN(mesh::runner::DockerRunner, "runner-docker", MESH_VERSION);
