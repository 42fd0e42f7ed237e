// Daemon start-to-ready time and idle RSS (test plugin loaded), each printed next to a
// baseline measured in the same run: `git daemon` started the same way on the same machine.
// Figures only: nothing here asserts a time.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "bench_util.hpp"
#include "harness.hpp"

using namespace mesh::test;
using namespace mesh::bench;

int main() {
  constexpr int kRuns = 7;
  TempDir dir("bench");
  std::vector<double> mesh_ms, git_ms;
  long mesh_rss = 0, git_rss = 0;

  Node node(dir.path(), "bench");
  node.write_config({"test-hello"});
  for (int i = 0; i < kRuns; ++i) {
    auto t0 = Clock::now();
    auto p = node.start();  // returns once the control socket answers `status`
    auto t1 = Clock::now();
    if (p.exit != 0) {
      std::fprintf(stderr, "mesh start failed: %s\n", p.err.c_str());
      return 1;
    }
    mesh_ms.push_back(ms_between(t0, t1));
    if (i == kRuns - 1) {
      std::this_thread::sleep_for(std::chrono::seconds(2));  // settle: idle
      mesh_rss = status_kib(node.pid(), "VmRSS:");
    }
    node.stop();
  }

  // Baseline: git daemon, ready when its port accepts.
  std::filesystem::create_directories(dir.path() / "git");
  for (int i = 0; i < kRuns; ++i) {
    int port = free_port();
    std::string port_arg = "--port=" + std::to_string(port);
    std::string base = "--base-path=" + (dir.path() / "git").string();
    auto t0 = Clock::now();
    pid_t pid = ::fork();
    if (pid == 0) {
      // Its own process group, and no handle on the bench's output: a connection child that
      // outlives the daemon must not keep CTest waiting for the output pipe to close (once seen:
      // the bench finished, then timed out).
      ::setpgid(0, 0);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execlp("git", "git", "daemon", "--reuseaddr", "--listen=127.0.0.1", port_arg.c_str(),
               base.c_str(), "--export-all", static_cast<char*>(nullptr));
      _exit(127);
    }
    while (!port_open(port)) std::this_thread::sleep_for(std::chrono::microseconds(500));
    auto t1 = Clock::now();
    git_ms.push_back(ms_between(t0, t1));
    if (i == kRuns - 1) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      git_rss = status_kib(pid, "VmRSS:");
    }
    ::kill(-pid, SIGTERM);  // the daemon and any connection child still running
    ::waitpid(pid, nullptr, 0);
  }

  double m = median(mesh_ms), g = median(git_ms);
  std::printf(
      "bench startup: mesh start --detach to ready  median %.1f ms  | git daemon %.1f ms"
      "  | ratio %.2f  (%d runs each)\n",
      m, g, m / g, kRuns);
  std::printf(
      "bench idle-rss: mesh daemon (test-hello loaded) %.1f MiB  | git daemon %.1f MiB"
      "  | ratio %.2f\n",
      mesh_rss / 1024.0, git_rss / 1024.0,
      git_rss > 0 ? static_cast<double>(mesh_rss) / git_rss : 0.0);
  return 0;
}
