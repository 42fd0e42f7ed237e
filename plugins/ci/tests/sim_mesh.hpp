// A simulated mesh for the glue's tests: several nodes, each a real Ci (glue/ci.hpp) with its
// own data directory, joined by an in-memory gossip that keeps the real rules -- stored events
// get a per-origin seq and a Lamport clock that passes every event the node has stored, reach
// every connected node once and a reconnecting node later; `.live` events reach connected nodes
// only; `local.*` events their own node only. Mirrors are real git repositories (the git CLI
// makes them), jobs really run (`sh -e` in the worktree, in a process group of their own) or
// are finished by the test. Time is simulated: the test advances it, ticks run once a second.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "ci.hpp"
#include "heartbeat.hpp"
#include "settings.hpp"

extern char** environ;

namespace mesh::ci::sim {
namespace fs = std::filesystem;

struct Proc {
  int exit = -1;
  std::string out;
};

// Runs argv (no shell) in cwd; stdout and stderr together.
inline Proc run(const std::vector<std::string>& argv, const fs::path& cwd = {},
                const std::vector<std::string>& env = {}) {
  int p[2];
  if (::pipe(p) != 0) return {};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  posix_spawn_file_actions_addclose(&fa, p[0]);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  std::vector<std::string> args = argv;
  std::vector<char*> a;
  for (auto& s : args) a.push_back(s.data());
  a.push_back(nullptr);
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  for (const auto& e : env) envs.push_back(e);
  std::vector<char*> ev;
  for (auto& s : envs) ev.push_back(s.data());
  ev.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, a[0], &fa, nullptr, a.data(), ev.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(p[1]);
  Proc out;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) out.out.append(buf, n);
  ::close(p[0]);
  if (rc != 0) return out;
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

class TempDir {
 public:
  explicit TempDir(const std::string& tag = "ci-sim") {
    std::string t = (fs::temp_directory_path() / (tag + "-XXXXXX")).string();
    path_ = ::mkdtemp(t.data()) ? t : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A work repository that commits with the git CLI and pushes into bare mirrors.
class WorkRepo {
 public:
  WorkRepo(fs::path dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {
    fs::create_directories(dir_);
    git({"init", "-q", "-b", "main", "."});
  }
  Proc git(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"git", "-c", "user.name=t", "-c", "user.email=t@example.com"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, dir_, {"GIT_CONFIG_NOSYSTEM=1", "HOME=" + dir_.string()});
  }
  // Writes the files and commits them; returns the sha.
  std::string commit(const std::map<std::string, std::string>& files, const std::string& msg) {
    for (const auto& [path, text] : files) {
      fs::create_directories((dir_ / path).parent_path());
      std::ofstream(dir_ / path, std::ios::trunc) << text;
      git({"add", path});
    }
    git({"commit", "-q", "--allow-empty", "-m", msg});
    std::string sha = git({"rev-parse", "HEAD"}).out;
    while (!sha.empty() && sha.back() == '\n') sha.pop_back();
    return sha;
  }
  // Pushes HEAD to refs/heads/<branch> of the mirror <repos>/<name>.git (made if missing).
  void push_to(const fs::path& repos, const std::string& branch = "main") const {
    fs::path mirror = repos / (name_ + ".git");
    if (!fs::exists(mirror)) {
      fs::create_directories(repos);
      run({"git", "init", "-q", "--bare", "-b", "main", mirror.string()});
    }
    git({"push", "-q", "--force", mirror.string(), "HEAD:refs/heads/" + branch});
  }
  const std::string& name() const { return name_; }

 private:
  fs::path dir_;
  std::string name_;
};

struct SimEvent {
  std::string origin, topic, payload;
  std::uint64_t seq = 0, lamport = 0, wall = 0;
};

struct SimJob {
  std::uint64_t id = 0;
  std::string runner;
  JobSubmit job;
  JobLogFn log;
  JobDoneFn done;
  std::atomic<bool> finished{false};
  std::atomic<bool> cancelled{false};
  std::atomic<int> pgid{0};
  std::thread thread;
};

class SimNet;

class SimNode final : public Env {
 public:
  SimNode(SimNet& net, std::string name, char letter, fs::path root, fs::path repos);
  ~SimNode() override;

  // ---- set-up ----
  std::string config = "{}";        // [plugins.ci]
  std::vector<RunnerInfo> runners;  // what its runner plugins register
  bool runs_jobs = true;            // [runner] enabled
  bool auto_run = true;             // jobs run with sh; false: the test finishes them
  bool connected = true;
  bool deaf = false;             // looks up but receives no stored events (a link that drops them)
  bool missing_secrets = false;  // the host refuses jobs that declare secrets

  void start();
  void stop();  // the daemon stops (the Ci object goes away; its data stays)
  bool running() const { return ci != nullptr; }

  // ---- what it did ----
  std::vector<std::string> notes;  // push notes it published, one line each
  std::vector<std::string> syncs;  // local.sync requests
  std::vector<std::shared_ptr<SimJob>> jobs;
  std::map<std::uint64_t, std::string> responses;  // follow answers by call id
  std::map<std::uint64_t, std::string> chunks;     // follow output by call id
  std::vector<std::string> logs;
  std::string heartbeat;

  CliOut cli(const std::vector<std::string>& args, bool json = false, std::uint64_t call = 0);
  boost::json::value cli_json(const std::vector<std::string>& args);
  const RunState* run(const std::string& id);
  // Finishes a job the test drives (auto_run false).
  void finish(const std::string& job_name, JobOutcome o, int code, const std::string& output = {});
  std::shared_ptr<SimJob> job(const std::string& name) const;

  // ---- Env ----
  void log(Level, const std::string& m) override;
  bool publish(std::string_view topic, const std::string& payload, std::string* error) override;
  std::uint64_t now_ms() override;
  std::uint64_t mono_ms() override;
  std::vector<Member> members() override;
  LocalRunners local_runners() override;
  double load() override { return 0; }
  void set_heartbeat(const std::string& json) override;
  SubmitResult submit_job(const std::string& runner, const JobSubmit& job, JobLogFn on_log,
                          JobDoneFn on_done) override;
  void cancel_job(std::uint64_t job_id) override;
  bool cli_chunk(std::uint64_t call, const std::string& text) override;
  void cli_respond(std::uint64_t call, int code, const std::string& output) override;
  bool render(std::string_view tmpl, const std::string& ctx, std::string* out,
              std::string* error) override;
  void sse(const std::string& channel, const std::string& event, const std::string& data) override;
  std::vector<std::tuple<std::string, std::string, std::string>> sse_sent;

  SimNet& net;
  std::string id, name;
  fs::path root, repos;
  std::unique_ptr<Ci> ci;
  std::uint64_t seq = 0, lamport = 0;
  std::set<std::pair<std::string, std::uint64_t>> have;  // stored events taken
  std::mutex mu;                                         // jobs, responses, chunks, logs, heartbeat
  std::uint64_t next_job = 1;

 private:
  void run_shell(std::shared_ptr<SimJob> j);
};

class SimNet {
 public:
  std::uint64_t wall = 1'700'000'000'000;  // 2023-11-14
  std::uint64_t mono = 1'000'000;
  std::vector<std::unique_ptr<SimNode>> nodes;
  std::vector<SimEvent> feed;  // every stored event, in publication order
  std::deque<std::pair<SimNode*, SimEvent>> queue;
  std::recursive_mutex mu;

  SimNode& add(const std::string& name, char letter, fs::path root, fs::path repos) {
    nodes.push_back(
        std::make_unique<SimNode>(*this, name, letter, std::move(root), std::move(repos)));
    return *nodes.back();
  }
  // Delivers everything queued.
  void pump();
  // Anti-entropy: queues the stored events each connected node lacks and another holds.
  void sync();
  // Ticks every running node once.
  void tick();
  // Advances time by ms, ticking once a second, pumping in between.
  void advance(std::uint64_t ms);
  // Pumps and ticks (advancing by step_ms) until pred() or max_ms of simulated time; real
  // background work (checkouts, jobs) gets a moment between steps, and once max_ms is spent it
  // gets up to a minute of real time in all, with the simulated clock stopped.
  bool until(const std::function<bool()>& pred, std::uint64_t max_ms = 60'000,
             std::uint64_t step_ms = 100);
  // Replication's part: node publishes a refs event for a push it received.
  void pushed(SimNode& node, const std::string& repo, const std::string& ref,
              const std::string& old_sha, const std::string& new_sha);
  void deliver(SimNode& to, const SimEvent& e);
};

}  // namespace mesh::ci::sim
