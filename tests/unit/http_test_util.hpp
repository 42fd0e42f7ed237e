// Helpers shared by the HTTP unit tests: run a real process (curl) without a shell and read
// what it printed.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace mesh::test {

struct Exec {
  int exit = -1;
  std::string out;
};

// Runs argv (no shell) and returns its exit status and stdout.
inline Exec run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe(fds) != 0) return {};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  Exec result;
  if (rc != 0) {
    ::close(fds[0]);
    return result;
  }
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) result.out.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

struct CurlResult {
  int exit = -1;
  int status = 0;  // 0 when no HTTP response arrived
  std::string body;
};

// curl with its own bound (a hang fails the call, never the suite).
inline CurlResult curl(std::vector<std::string> args) {
  std::vector<std::string> argv = {"curl",       "-s", "--noproxy", "*",
                                   "--max-time", "60", "-w",        "\n%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto e = run(argv);
  CurlResult r;
  r.exit = e.exit;
  auto nl = e.out.rfind('\n');
  if (nl == std::string::npos) return r;
  r.body = e.out.substr(0, nl);
  r.status = std::atoi(e.out.c_str() + nl + 1);
  return r;
}

inline void write_file(const std::filesystem::path& p, std::string_view data) {
  std::ofstream f(p, std::ios::binary);
  f << data;
}

}  // namespace mesh::test
