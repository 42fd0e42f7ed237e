// Clone throughput of the replication plugin (issue #4): `git clone --bare` of a ~50 MB,
// 5,000-commit repo from a lone mesh node over https, against `git daemon` serving the very same
// bare repo (the node's mirror directory) over git:// in the same run. Figures only: nothing here
// asserts a time (the goal, a median at most 1.15x the baseline, is printed, not checked).
//
// The repo is generated deterministically with `git fast-import` (5,000 commits, each rewriting
// one of 500 files with 4-16 KiB of pseudo-random bytes, so nothing compresses or deltifies) and
// cached in the build tree, so reruns skip that step. It reaches the node with a real push over
// https. Clones rotate between the servers, 3 each. The daemon's peak RSS during the clones is
// VmHWM after resetting it (clear_refs 5) right before them; the git upload-pack children are
// separate processes on both sides and not counted.
//
// Secondary figures, to tell the server's cost from the transport's: the same clones from the
// node over plain http (loopback), and the CPU time of each clone summed over all processes
// (client: git and its helpers, from RUSAGE_CHILDREN; server: the daemon's process tree, from
// /proc/<pid>/stat), which a busy shared machine disturbs less than wall time.
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
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

using namespace mesh::test;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr int kCommits = 5000;
constexpr int kFiles = 500;  // 20 directories of 25
constexpr int kClones = 3;   // per server
// Bump when the generator changes, so a stale cache is not reused.
constexpr const char* kCacheName = "repl-clone-src-v1";

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string chomp(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::vector<std::string> git_env(const fs::path& home) {
  return {"HOME=" + home.string(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"};
}

// The real git client with a private HOME; long timeout for the 50 MB transfers.
Proc git(const fs::path& home, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-c", "protocol.version=2"});
  return run(args, git_env(home), 600s);
}

long status_kib(int pid, const char* field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::string(field).size()));
  }
  return -1;
}

// CPU time of pid and of the children it has reaped (utime+stime+cutime+cstime), in ms.
double cpu_ms(int pid) {
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
double tree_cpu_ms(int pid) {
  std::map<int, std::vector<int>> kids;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
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
double children_cpu_ms() {
  rusage ru{};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

// splitmix64: fast and the same everywhere, so the repo (and its oids) is the same every run.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

// Runs `git fast-import` in git_dir with the generated stream on its stdin.
bool fast_import(const fs::path& git_dir, const fs::path& home) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return false;
  fs::path err_file = git_dir / "fast-import.err";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 1);
    ::dup2(err, 2);
    ::setenv("HOME", home.c_str(), 1);
    ::setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    ::execlp("git", "git", "--git-dir", git_dir.c_str(), "fast-import", "--quiet",
             static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(in[0]);
  FILE* out = ::fdopen(in[1], "w");
  Rng rng{42};
  std::string data;
  bool ok = true;
  for (int i = 0; i < kCommits && ok; ++i) {
    int file = static_cast<int>(rng.next() % kFiles);
    std::size_t size = 4096 + rng.next() % (12 * 1024);
    data.resize(size + 8);
    for (std::size_t j = 0; j < size; j += 8) {
      std::uint64_t r = rng.next();
      std::memcpy(&data[j], &r, 8);
    }
    char path[32];
    std::snprintf(path, sizeof path, "d%02d/f%02d.bin", file / 25, file % 25);
    std::string msg = "commit " + std::to_string(i) + ": rewrite " + path + "\n";
    long ts = 1'700'000'000L + i * 60L;
    std::fprintf(out,
                 "commit refs/heads/main\n"
                 "author Bench <bench@example.com> %ld +0000\n"
                 "committer Bench <bench@example.com> %ld +0000\n"
                 "data %zu\n%s"
                 "M 100644 inline %s\ndata %zu\n",
                 ts, ts, msg.size(), msg.c_str(), path, size);
    ok = std::fwrite(data.data(), 1, size, out) == size && std::fputc('\n', out) != EOF;
  }
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

// The generated source repo, from the cache or made now (built aside, then renamed in).
bool source_repo(const fs::path& home, fs::path& out, double& made_ms) {
  fs::path cache = MESH_BENCH_CACHE;
  out = cache / (std::string(kCacheName) + ".git");
  made_ms = 0;
  std::error_code ec;
  if (fs::exists(out / "mesh-bench-complete", ec)) return true;
  fs::create_directories(cache, ec);
  fs::remove_all(out, ec);
  fs::path tmp = cache / (std::string(kCacheName) + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  auto t0 = Clock::now();
  if (git(home, {"init", "-q", "--bare", tmp.string()}).exit != 0 || !fast_import(tmp, home) ||
      git(home, {"--git-dir", tmp.string(), "symbolic-ref", "HEAD", "refs/heads/main"}).exit != 0) {
    fs::remove_all(tmp, ec);
    return false;
  }
  std::ofstream(tmp / "mesh-bench-complete") << "generated by repl_clone_bench\n";
  fs::rename(tmp, out, ec);
  if (ec) {
    std::fprintf(stderr, "cannot move the generated repo into %s: %s\n", out.c_str(),
                 ec.message().c_str());
    return false;
  }
  made_ms = ms_between(t0, Clock::now());
  return true;
}

std::uintmax_t pack_bytes(const fs::path& git_dir) {
  std::uintmax_t total = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(git_dir / "objects" / "pack", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".pack") total += it->file_size(ec);
  }
  return total;
}

int free_port() {
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

bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

// `git daemon` serving base over git:// on 127.0.0.1, with the bench's private HOME.
class GitDaemon {
 public:
  bool start(const fs::path& base, const fs::path& home) {
    for (int attempt = 0; attempt < 3; ++attempt) {  // a free port can be taken meanwhile
      port_ = free_port();
      std::string port_arg = "--port=" + std::to_string(port_);
      std::string base_arg = "--base-path=" + base.string();
      pid_ = ::fork();
      if (pid_ == 0) {
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::setenv("HOME", home.c_str(), 1);
        ::setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
        ::execlp("git", "git", "daemon", "--reuseaddr", "--listen=127.0.0.1", port_arg.c_str(),
                 base_arg.c_str(), "--export-all", static_cast<char*>(nullptr));
        _exit(127);
      }
      for (int i = 0; i < 2000 && process_alive(pid_); ++i) {
        if (port_open(port_)) return true;
        std::this_thread::sleep_for(5ms);
      }
      stop();
    }
    return false;
  }
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
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

}  // namespace

int main() {
  TempDir dir("bench-repl-clone");
  fs::path home = dir.path() / "home";
  fs::create_directories(home);

  fs::path src;
  double made_ms = 0;
  if (!source_repo(home, src, made_ms)) return 1;
  const std::string tip = chomp(git(home, {"--git-dir", src.string(), "rev-parse", "main"}).out);
  if (made_ms > 0) {
    std::printf("  generated %s (%d commits, %.1f MB packed) in %.1f s\n", src.c_str(), kCommits,
                static_cast<double>(pack_bytes(src)) / 1e6, made_ms / 1000.0);
  } else {
    std::printf("  reusing %s (%d commits, %.1f MB packed)\n", src.c_str(), kCommits,
                static_cast<double>(pack_bytes(src)) / 1e6);
  }
  std::fflush(stdout);

  // A lone node: nothing to replicate to, so the push answers as soon as git is done.
  Node node(dir.path(), "solo");
  node.write_config({"replication"});
  if (auto p = node.start(); p.exit != 0) {
    std::fprintf(stderr, "mesh start failed: %s\n", p.err.c_str());
    return 1;
  }
  const std::string ssl =
      "http.https://localhost:" + std::to_string(node.port()) + ".sslVerify=false";
  const std::string mesh_url = node.https_url("/big.git");
  auto t0 = Clock::now();
  auto push = git(home, {"-c", ssl, "--git-dir", src.string(), "push", "-q", mesh_url, "main"});
  double push_ms = ms_between(t0, Clock::now());
  fs::path mirror = node.root() / "repos" / "big.git";
  const std::string served =
      chomp(git(home, {"--git-dir", mirror.string(), "rev-parse", "refs/heads/main"}).out);
  if (push.exit != 0 || served != tip) {
    std::fprintf(stderr, "push to the node failed (mirror has '%s', want %s): %s\n", served.c_str(),
                 tip.c_str(), push.err.c_str());
    return 1;
  }
  std::printf("  pushed it to the node over https in %.1f s; the mirror holds %.1f MB packed\n",
              push_ms / 1000.0, static_cast<double>(pack_bytes(mirror)) / 1e6);
  std::fflush(stdout);

  // The baseline serves the node's own mirror directory: same bytes on disk, other transport.
  GitDaemon daemon;
  if (!daemon.start(node.root() / "repos", home)) {
    std::fprintf(stderr, "git daemon did not start\n");
    return 1;
  }

  // Peak RSS from here on (Linux >= 4.0: writing 5 resets VmHWM to the current RSS).
  long rss_before = status_kib(node.pid(), "VmRSS:");
  bool hwm_reset = false;
  if (int fd = ::open(("/proc/" + std::to_string(node.pid()) + "/clear_refs").c_str(), O_WRONLY);
      fd >= 0) {
    hwm_reset = ::write(fd, "5", 1) == 1;
    ::close(fd);
  }
  struct Server {
    Server(const char* w, std::string u, int p) : what(w), url(std::move(u)), pid(p) {}
    const char* what;
    std::string url;
    int pid;  // its process tree's CPU counts as the server's
    std::vector<double> ms, cpu_ms, server_cpu_ms;
  };
  std::vector<Server> servers{{"mesh https", mesh_url, node.pid()},
                              {"git daemon", daemon.url("big"), daemon.pid()},
                              {"mesh http", node.http_url("/big.git"), node.pid()}};
  for (int round = 0; round < kClones; ++round) {
    for (std::size_t k = 0; k < servers.size(); ++k) {
      Server& sv = servers[(k + static_cast<std::size_t>(round)) % servers.size()];
      fs::path target = dir.path() / "clone.git";
      double client0 = children_cpu_ms(), server0 = tree_cpu_ms(sv.pid);
      auto c0 = Clock::now();
      auto clone = git(home, {"-c", ssl, "clone", "-q", "--bare", sv.url, target.string()});
      double ms = ms_between(c0, Clock::now());
      std::this_thread::sleep_for(100ms);  // let the server's processes exit
      double server = tree_cpu_ms(sv.pid) - server0;
      double cpu = children_cpu_ms() - client0 + server;
      std::string got = chomp(git(home, {"--git-dir", target.string(), "rev-parse", "main"}).out);
      if (clone.exit != 0 || got != tip) {
        std::fprintf(stderr, "clone from %s failed (got '%s'): %s\n", sv.url.c_str(), got.c_str(),
                     clone.err.c_str());
        return 1;
      }
      sv.ms.push_back(ms);
      sv.cpu_ms.push_back(cpu);
      sv.server_cpu_ms.push_back(server);
      std::error_code ec;
      fs::remove_all(target, ec);
    }
  }
  long hwm = status_kib(node.pid(), "VmHWM:");
  daemon.stop();
  node.stop();

  std::printf(
      "bench repl-clone (git clone --bare, %d commits, %.1f MB pack, %d clones per server, "
      "rotating):\n",
      kCommits, static_cast<double>(pack_bytes(mirror)) / 1e6, kClones);
  for (const Server& sv : servers) {
    std::printf("  %-10s wall median %5.0f ms (runs:", sv.what, median(sv.ms));
    for (double x : sv.ms) std::printf(" %.0f", x);
    std::printf(")  CPU client+server median %5.0f ms (server part %.0f)\n", median(sv.cpu_ms),
                median(sv.server_cpu_ms));
  }
  const Server &https = servers[0], &base = servers[1], &http = servers[2];
  double ratio = median(https.ms) / median(base.ms);
  std::printf(
      "  ratio mesh https / git daemon: wall %.2f (goal <= 1.15: %s), CPU %.2f; mesh http / git "
      "daemon: wall %.2f, CPU %.2f\n",
      ratio, ratio <= 1.15 ? "met" : "not met", median(https.cpu_ms) / median(base.cpu_ms),
      median(http.ms) / median(base.ms), median(http.cpu_ms) / median(base.cpu_ms));
  std::printf("  mesh daemon RSS before the clones %.1f MiB, peak during them %.1f MiB%s\n",
              rss_before / 1024.0, hwm / 1024.0,
              hwm_reset ? "" : " (VmHWM could not be reset: peak since start)");
  return 0;
}
