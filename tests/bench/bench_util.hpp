// Helpers the benchmarks share, so every bench measures, summarises and drives git the same way
// (a figure means the same thing in each bench's output). Header-only: each bench is one .cpp.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "trio.hpp"

namespace mesh::bench {

// Monotonic: wall-clock jumps must not show up as latency.
using Clock = std::chrono::steady_clock;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Upper median (no averaging): with few samples it is always a value that was measured.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Nearest-rank percentile.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

// git prints oids with a trailing newline.
inline std::string chomp(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A private HOME and no system config: the user's git settings must not change the figures.
inline std::vector<std::string> git_env(const std::filesystem::path& home) {
  return {"HOME=" + home.string(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"};
}

// The same isolation for a git we fork ourselves (after fork, before exec).
inline void set_git_env_in_child(const std::filesystem::path& home) {
  ::setenv("HOME", home.c_str(), 1);
  ::setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
}

// The real git client with a private HOME. Large transfers need a longer timeout.
inline test::Proc git(const std::filesystem::path& home, std::vector<std::string> args,
                      std::chrono::seconds timeout = std::chrono::seconds(300)) {
  args.insert(args.begin(), {"git", "-c", "protocol.version=2"});
  return test::run(args, git_env(home), timeout);
}

// The oid a ref has in a bare repo, read from its files (loose ref, else packed-refs); "" if
// none. No process: cheap enough to poll every millisecond (libgit2 replaces a loose ref file
// atomically).
inline std::string read_ref(const std::filesystem::path& git_dir, const std::string& ref) {
  char buf[64];
  int fd = ::open((git_dir / ref).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    return n >= 40 ? std::string(buf, 40) : "";
  }
  std::ifstream packed(git_dir / "packed-refs");
  std::string line;
  while (std::getline(packed, line)) {
    if (line.size() > 41 && line.compare(41, std::string::npos, ref) == 0)
      return line.substr(0, 40);
  }
  return "";
}

// refs/heads/main of n's mirror of `repo` (read_ref).
inline std::string mirror_main(const test::Node& n, const std::string& repo) {
  return read_ref(n.root() / "repos" / (repo + ".git"), "refs/heads/main");
}

// A "Field:" of /proc/<pid>/status in KiB (VmRSS:, VmHWM:, ...); -1 if absent.
inline long status_kib(int pid, const char* field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::string(field).size()));
  }
  return -1;
}

// CPU time of pid and of the children it has reaped (utime+stime+cutime+cstime), in ms.
inline double cpu_ms(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 17 && in >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// CPU time of pid's whole process tree: itself, the children it reaped, and the descendants not
// reaped yet (git daemon reaps its per-connection child only when the next connection comes;
// a zombie's /proc entry still holds its times), in ms.
inline double tree_cpu_ms(int pid) {
  std::map<int, std::vector<int>> kids;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(it->path() / "stat");
    std::string line;
    std::getline(f, line);
    auto close = line.rfind(')');
    if (close == std::string::npos || close + 4 >= line.size()) continue;
    std::istringstream in(line.substr(close + 4));  // after ") S "
    int ppid = 0;
    if (in >> ppid) kids[ppid].push_back(std::stoi(name));
  }
  double total = 0;
  std::vector<int> todo{pid};
  while (!todo.empty()) {
    int p = todo.back();
    todo.pop_back();
    total += cpu_ms(p);
    for (int c : kids[p]) todo.push_back(c);
  }
  return total;
}

// CPU time of this process's reaped children (every git client run so far), in ms.
inline double children_cpu_ms() {
  rusage ru{};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

// splitmix64: fast and the same everywhere, so a generated repo (and its oids) is the same
// every run.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

// Runs `git fast-import` in git_dir and lets write_stream write its input stream to `out`
// (write_stream returns false if a write failed). Each bench generates its own history; the
// process handling is the same. git's output goes to git_dir/fast-import.err, shown on failure.
inline bool fast_import(const std::filesystem::path& git_dir, const std::filesystem::path& home,
                        const std::function<bool(std::FILE* out)>& write_stream) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return false;
  std::filesystem::path err_file = git_dir / "fast-import.err";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 1);
    ::dup2(err, 2);
    set_git_env_in_child(home);
    ::execlp("git", "git", "--git-dir", git_dir.c_str(), "fast-import", "--quiet",
             static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(in[0]);
  std::FILE* out = ::fdopen(in[1], "w");
  bool ok = write_stream(out);
  ok = std::fclose(out) == 0 && ok;
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream e(err_file);
    std::fprintf(stderr, "git fast-import failed: %s\n",
                 std::string((std::istreambuf_iterator<char>(e)), {}).c_str());
    return false;
  }
  return true;
}

// A loopback port nobody listens on right now (it can be taken before we bind it: retry).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return ntohs(sa.sin_port);
}

// True once something accepts on the loopback port: how a server without a status call is ready.
inline bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

// `git daemon` serving base over git:// on 127.0.0.1, with the bench's private HOME: the plain-git
// baseline the replication figures are set against.
class GitDaemon {
 public:
  bool start(const std::filesystem::path& base, const std::filesystem::path& home) {
    for (int attempt = 0; attempt < 3; ++attempt) {  // a free port can be taken meanwhile
      port_ = free_port();
      std::string port_arg = "--port=" + std::to_string(port_);
      std::string base_arg = "--base-path=" + base.string();
      pid_ = ::fork();
      if (pid_ == 0) {
        ::setpgid(0, 0);  // stop() ends the daemon and its connection children together
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        set_git_env_in_child(home);
        ::execlp("git", "git", "daemon", "--reuseaddr", "--listen=127.0.0.1", port_arg.c_str(),
                 base_arg.c_str(), "--export-all", static_cast<char*>(nullptr));
        _exit(127);
      }
      for (int i = 0; i < 2000 && test::process_alive(pid_); ++i) {
        if (port_open(port_)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      stop();
    }
    return false;
  }
  void stop() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  ~GitDaemon() { stop(); }
  std::string url(const std::string& repo) const {
    return "git://127.0.0.1:" + std::to_string(port_) + "/" + repo + ".git";
  }
  int pid() const { return pid_; }

 private:
  int port_ = 0;
  pid_t pid_ = -1;
};

// Starts the trio, pairs A-B and B-C (the real invite/join) and waits until all are up. Unlike
// Trio::start_and_pair (gtest asserts) it prints why and returns false: a bench is no gtest.
inline bool start_and_pair(test::Trio& t) {
  for (test::Node* n : t.all()) {
    auto p = n->start();
    if (p.exit != 0) {
      std::fprintf(stderr, "%s: start failed: %s\n", n->name().c_str(), p.err.c_str());
      return false;
    }
  }
  if (t.b.mesh({"join", test::invite(t.a)}).exit != 0 ||
      t.c.mesh({"join", test::invite(t.b)}).exit != 0) {
    std::fprintf(stderr, "pairing failed\n");
    return false;
  }
  bool up = test::eventually(
      [&] {
        return test::up_peers(t.a) == std::set<std::string>{"bob", "carol"} &&
               test::up_peers(t.b) == std::set<std::string>{"alice", "carol"} &&
               test::up_peers(t.c) == std::set<std::string>{"alice", "bob"};
      },
      std::chrono::seconds(60));
  if (!up) std::fprintf(stderr, "the trio never saw everyone up\n");
  return up;
}

}  // namespace mesh::bench
