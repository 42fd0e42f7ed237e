#include "spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spawn.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace mesh::updater {

namespace {

// Async-signal-safe: closes every descriptor from `from` on.
void close_from(int from) {
  if (::close_range(static_cast<unsigned>(from), ~0u, 0) == 0) return;
  long max = ::sysconf(_SC_OPEN_MAX);
  for (int fd = from; fd < (max > 0 ? max : 4096); ++fd) ::close(fd);
}

}  // namespace

Result<int> spawn_detached(const std::vector<std::string>& argv,
                           const std::filesystem::path& output) {
  if (argv.empty()) return make_error(Errc::invalid, "nothing to run");
  // Everything the children need is prepared before fork: after it, only async-signal-safe
  // calls until exec.
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string out_path = output.string();
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    return make_error(Errc::io, std::string("pipe: ") + std::strerror(errno));
  }
  pid_t child = ::fork();
  if (child < 0) {
    int e = errno;
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return make_error(Errc::io, std::string("fork: ") + std::strerror(e));
  }
  if (child == 0) {
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild != 0) {
      int code = grandchild > 0 ? 0 : 1;
      if (grandchild > 0) (void)!::write(pipefd[1], &grandchild, sizeof grandchild);
      _exit(code);
    }
    // The watchdog itself: default signal handling, clean descriptors.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGHUP, SIG_IGN);  // the session leader (the middle child) is gone already
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (in < 0 || out < 0) _exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    close_from(3);
    ::execv(cargv[0], cargv.data());
    _exit(127);
  }
  ::close(pipefd[1]);
  pid_t grandchild = -1;
  ssize_t n;
  do {
    n = ::read(pipefd[0], &grandchild, sizeof grandchild);
  } while (n < 0 && errno == EINTR);
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof grandchild) || grandchild <= 0) {
    return make_error(Errc::io, "could not start the update watchdog");
  }
  return static_cast<int>(grandchild);
}

std::optional<SystemdUnit> systemd_unit(std::string_view cgroup, bool invocation_id) {
  if (!invocation_id) return std::nullopt;
  // cgroup v2: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/mesh.service";
  // v1 keeps the same path on its "name=systemd" line.
  std::string path;
  std::istringstream in{std::string(cgroup)};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
    if (path.empty() && line.find(":name=systemd:") != std::string::npos)
      path = line.substr(line.find(":name=systemd:") + 14);
  }
  auto slash = path.rfind('/');
  std::string last = slash == std::string::npos ? path : path.substr(slash + 1);
  if (last.size() <= 8 || last.substr(last.size() - 8) != ".service") return std::nullopt;
  for (char c : last) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
        c != '@' && c != ':' && c != '\\')
      return std::nullopt;
  }
  return SystemdUnit{last, path.find("/user@") != std::string::npos};
}

std::optional<SystemdUnit> current_systemd_unit() {
  std::ifstream in("/proc/self/cgroup");
  std::stringstream ss;
  ss << in.rdbuf();
  const char* id = std::getenv("INVOCATION_ID");
  return systemd_unit(ss.str(), id && *id);
}

Status spawn_transient(const SystemdUnit& manager, const std::string& unit_name,
                       const std::vector<std::string>& argv, const std::filesystem::path& output) {
  std::vector<std::string> args{"systemd-run"};
  if (manager.user) args.push_back("--user");
  args.insert(args.end(), {"--collect", "--quiet", "--unit=" + unit_name,
                           "--property=StandardOutput=append:" + output.string(),
                           "--property=StandardError=append:" + output.string(), "--"});
  args.insert(args.end(), argv.begin(), argv.end());
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  if (int rc = ::posix_spawnp(&pid, "systemd-run", nullptr, nullptr, cargv.data(), environ);
      rc != 0) {
    return make_error(Errc::io, std::string("cannot run systemd-run: ") + std::strerror(rc));
  }
  int status = 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > end) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return make_error(Errc::timeout, "systemd-run did not return within 30 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return make_error(Errc::io, "systemd-run could not start the update watchdog (exit " +
                                    std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                                    ")");
  }
  return {};
}

}  // namespace mesh::updater
