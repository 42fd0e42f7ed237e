// "nice": a third-party mesh runner. It runs `shell` jobs like runner-shell, but at the lowest
// CPU priority (nice 19), so a laptop can take teammates' CI jobs without getting in the way.
// It offers the label "background": a pipeline asks for it with `runner: { labels: [background] }`.
//
// Settings ([plugins.nice] in mesh.toml): slots = 1..8 (default 1).
// Built against the installed SDK only (find_package(meshSDK)): see README.md.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <string>

#include "mesh/plugin.hpp"
#include "mesh/plugin_jobs.hpp"

namespace {

// The job's commands as one script: "set -e", then each command.
std::string script_of(const std::vector<std::string>& commands) {
  std::string s = "set -e\n";
  for (const auto& c : commands) s += c + "\n";
  return s;
}

class NiceRunner : public mesh::sdk::Plugin {
 public:
  void start() override {
    std::string cfg = host().config_json();
    uint32_t slots = 1;
    if (auto k = cfg.find("\"slots\""); k != std::string::npos) {
      slots = static_cast<uint32_t>(std::stoul(cfg.substr(cfg.find(':', k) + 1)));
      if (slots < 1 || slots > 8) throw mesh::sdk::Error(MESH_E_INVALID, "slots: expected 1..8");
    }
    runner_.add(
        host(), {"nice", {"shell"}, {"background"}, slots},
        [this](const mesh::sdk::Job& job) { run(job); },
        [this](uint64_t id) {
          std::lock_guard<std::mutex> lock(mu_);
          if (auto it = pids_.find(id); it != pids_.end()) ::kill(-it->second, SIGKILL);
          cancelled_[id] = true;
        });
  }

 private:
  void run(const mesh::sdk::Job& job) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      job.done(mesh::sdk::JobOutcome::error, -1, "cannot make a pipe");
      return;
    }
    // argv, never a shell string of ours: nice -n 19 sh -e -c <the job's own script>.
    std::string script = script_of(job.commands());
    std::vector<std::string> args = {"/usr/bin/nice", "-n", "19", "/bin/sh", "-e", "-c", script};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_text;
    for (const auto& [n, v] : job.env()) env_text.push_back(n + "=" + v);
    for (const auto& [n, v] : job.secrets()) env_text.push_back(n + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    std::string cwd(job.workdir());
    posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setpgroup(&attr, 0);  // its own process group: a cancel kills all of it
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      job.done(mesh::sdk::JobOutcome::error, -1, "cannot start /usr/bin/nice");
      return;
    }
    bool cancelled = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pids_[job.id()] = pid;
      cancelled = cancelled_.count(job.id()) > 0;
    }
    if (cancelled) ::kill(-pid, SIGKILL);
    char buf[16384];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;)
      job.log(std::string_view(buf, static_cast<size_t>(n)));
    ::close(out[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    {
      std::lock_guard<std::mutex> lock(mu_);
      pids_.erase(job.id());
      cancelled = cancelled_.erase(job.id()) > 0;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (cancelled)
      job.done(mesh::sdk::JobOutcome::cancelled, code, "cancelled");
    else if (code == 0)
      job.done(mesh::sdk::JobOutcome::passed, 0);
    else
      job.done(mesh::sdk::JobOutcome::failed, code, "exit code " + std::to_string(code));
  }

  mesh::sdk::Runner runner_;
  std::mutex mu_;
  std::map<uint64_t, pid_t> pids_;
  std::map<uint64_t, bool> cancelled_;
};

}  // namespace

MESH_PLUGIN(NiceRunner, "nice", "0.1.0");
