#include "job_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

namespace mesh::runner {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

}  // namespace

std::string sh_single_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  out += "'";
  return out;
}

std::string job_script(const std::vector<std::string>& commands) {
  std::string s = "set -e\n";
  for (const auto& c : commands) {
    // The echo goes to the same stream as the command's output, so the log reads in order.
    s += "printf '%s\\n' " + sh_single_quote("$ " + c) + "\n";
    s += c;
    s += "\n";
  }
  return s;
}

void JobProcess::cancel() {
  if (cancel_.exchange(true)) return;
  std::lock_guard lock(wake_mu_);
  if (wake_[1] >= 0) {
    char b = 1;
    (void)!::write(wake_[1], &b, 1);
  }
}

ProcessResult JobProcess::run(const ProcessSpec& spec,
                              const std::function<void(std::string_view)>& on_output) {
  ProcessResult result;
  if (cancel_) {  // cancelled before it started: start nothing
    result.cancelled = true;
    return result;
  }
  if (spec.argv.empty()) {
    result.error = "no program to run";
    return result;
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    result.error = errno_text("pipe", errno);
    return result;
  }
  Fd out_r(out[0]), out_w(out[1]);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    result.error = errno_text("pipe", errno);
    return result;
  }
  Fd wake_r(wake[0]);
  {
    std::lock_guard lock(wake_mu_);
    wake_[1] = wake[1];
  }
  struct CloseWake {
    JobProcess* self;
    ~CloseWake() {
      std::lock_guard lock(self->wake_mu_);
      if (self->wake_[1] >= 0) ::close(self->wake_[1]);
      self->wake_[1] = -1;
    }
  } close_wake{this};

  std::vector<std::string> env_text;
  for (const auto& [n, v] : spec.env) env_text.push_back(n + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&fa, out_w.fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // nothing of the daemon leaks into a job
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, spec.cwd.c_str());
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);  // the daemon ignores SIGPIPE; jobs must not
  posix_spawnattr_setpgroup(&attr, 0);         // its own group: cancel kills all of it
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  out_w.reset();
  if (rc != 0) {
    result.error = errno_text(("cannot run " + spec.argv[0]).c_str(), rc);
    return result;
  }
  result.started = true;
  pgid_ = pid;
  Fd pidfd(pidfd_open(pid));

  std::optional<Clock::time_point> kill_at;
  bool term_sent = false;
  auto signal_group = [&](int sig) { ::kill(-pid, sig); };
  if (cancel_) {
    signal_group(SIGTERM);
    term_sent = true;
    kill_at = Clock::now() + spec.term_grace;
  }

  char buf[64 * 1024];
  bool exited = false;
  int status = 0;
  while (!exited) {
    pollfd fds[3] = {{out_r.fd, POLLIN, 0}, {wake_r.fd, POLLIN, 0}, {pidfd.fd, POLLIN, 0}};
    int timeout = -1;
    if (kill_at) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*kill_at - Clock::now());
      timeout = static_cast<int>(std::max<long long>(0, left.count()));
    }
    // Without a pidfd (kernels before 5.3) the exit is noticed by looking every 100 ms.
    if (pidfd.fd < 0) timeout = timeout < 0 ? 100 : std::min(timeout, 100);
    int n = ::poll(fds, 3, timeout);
    if (n < 0 && errno != EINTR) break;
    if (out_r.fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP))) {
      ssize_t got = ::read(out_r.fd, buf, sizeof buf);
      if (got > 0)
        on_output(std::string_view(buf, static_cast<std::size_t>(got)));
      else if (got == 0)
        out_r.reset();  // every writer closed; keep waiting for the exit
    }
    if (fds[1].revents & POLLIN) {
      char drain[16];
      while (::read(wake_r.fd, drain, sizeof drain) > 0) {
      }
      if (cancel_ && !term_sent) {
        signal_group(SIGTERM);
        term_sent = true;
        kill_at = Clock::now() + spec.term_grace;
      }
    }
    if (kill_at && Clock::now() >= *kill_at) {
      signal_group(SIGKILL);
      kill_at.reset();
    }
    bool leader_done = (fds[2].revents & POLLIN) != 0;
    if (pidfd.fd < 0) {
      siginfo_t info{};
      leader_done =
          ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid;
    }
    if (leader_done) {
      // Still a zombie, so the group id cannot be reused: kill whatever it left behind, then
      // reap it.
      signal_group(SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      exited = true;
    }
  }
  // What is still in the pipe (the group is dead, so writers are gone unless one escaped it).
  if (out_r.fd >= 0) {
    ::fcntl(out_r.fd, F_SETFL, O_NONBLOCK);
    for (ssize_t got; (got = ::read(out_r.fd, buf, sizeof buf)) > 0;)
      on_output(std::string_view(buf, static_cast<std::size_t>(got)));
  }
  if (WIFEXITED(status))
    result.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    result.exit_code = 128 + WTERMSIG(status);
  result.cancelled = cancel_;
  return result;
}

}  // namespace mesh::runner
