#include "git_process.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

namespace mesh::repl {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

// Moves fd to a number >= 3 (a daemon may run with 0-2 closed, and then a pipe could land on
// the very fd a dup2 action targets, which would keep its O_CLOEXEC and vanish at exec).
int high_cloexec(int fd) {
  if (fd < 0 || fd >= 3) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

bool cloexec_pipe(Fd* r, Fd* w) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return false;
  r->reset(high_cloexec(p[0]));
  w->reset(high_cloexec(p[1]));
  return *r && *w;
}

std::string errno_text(const char* what, int e) {
  return std::string(what) + ": " + strerror(e);
}

// RAII for the posix_spawn attribute objects.
struct SpawnAttrs {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  SpawnAttrs() {
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
  }
  ~SpawnAttrs() {
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::spawn(const ProcessSpec& spec, std::string* err) {
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  Fd in_r, out_w;
  if (spec.pipe_stdin && !cloexec_pipe(&in_r, &child->stdin_)) {
    *err = errno_text("pipe", errno);
    return nullptr;
  }
  if (!cloexec_pipe(&child->stdout_, &out_w)) {
    *err = errno_text("pipe", errno);
    return nullptr;
  }
  // Bigger pipe, fewer wakeups on a clone; best effort (capped by fs.pipe-max-size).
  ::fcntl(child->stdout_.get(), F_SETPIPE_SZ, 1 << 20);
  child->stderr_.reset(high_cloexec(::memfd_create("git-stderr", MFD_CLOEXEC)));
  if (!child->stderr_) {
    *err = errno_text("memfd_create", errno);
    return nullptr;
  }

  SpawnAttrs sa;
  int rc = 0;
  if (spec.pipe_stdin) {
    rc = posix_spawn_file_actions_adddup2(&sa.fa, in_r.get(), 0);
  } else {
    rc = posix_spawn_file_actions_addopen(&sa.fa, 0, "/dev/null", O_RDONLY, 0);
  }
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&sa.fa, out_w.get(), 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&sa.fa, child->stderr_.get(), 2);
  // Whatever the daemon or a library opened without O_CLOEXEC stays out of git.
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&sa.fa, 3);
  // Own process group (one kill reaches git's helpers), empty signal mask, default dispositions
  // (the daemon ignores SIGPIPE, and ignored dispositions survive exec).
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  if (rc == 0) {
    rc = posix_spawnattr_setflags(
        &sa.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  if (rc == 0) rc = posix_spawnattr_setpgroup(&sa.attr, 0);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&sa.attr, &none);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&sa.attr, &all);
  if (rc != 0) {
    *err = errno_text("posix_spawn setup", rc);
    return nullptr;
  }

  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  rc = posix_spawn(&pid, spec.path.c_str(), &sa.fa, &sa.attr, argv.data(), envp.data());
  if (rc != 0) {
    *err = errno_text(("spawn " + spec.path).c_str(), rc);
    return nullptr;
  }
  child->pid_ = pid;
  // A pidfd lets wait_exit() sleep in poll instead of polling waitid; optional.
  child->pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    bool done;
    {
      std::lock_guard lock(mu_);
      done = reaped_;
    }
    if (!done) terminate(std::chrono::milliseconds(2000));
  }
}

void ChildProcess::signal(int sig) {
  std::lock_guard lock(mu_);
  if (!reaped_ && pid_ > 0) ::kill(-pid_, sig);
}

bool ChildProcess::wait_exit(Clock::time_point deadline) {
  {
    std::lock_guard lock(mu_);
    if (reaped_) return true;
  }
  auto exited = [this] {
    siginfo_t info{};
    // WNOWAIT keeps the zombie, and with it the pid, until reap().
    int rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    return rc == 0 ? info.si_pid == pid_ : errno == ECHILD;
  };
  auto sleep_ms = std::chrono::milliseconds(1);
  for (;;) {
    if (exited()) return true;
    auto now = Clock::now();
    if (now >= deadline) return false;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    if (pidfd_) {
      struct pollfd p {
        pidfd_.get(), POLLIN, 0
      };
      int ms = static_cast<int>(std::min<long long>(left.count(), 60'000));
      ::poll(&p, 1, ms);
    } else {
      std::this_thread::sleep_for(std::min(sleep_ms, left));
      sleep_ms = std::min(sleep_ms * 2, std::chrono::milliseconds(50));
    }
  }
}

void ChildProcess::terminate(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (!wait_exit(Clock::now() + grace)) signal(SIGKILL);
  reap();
}

int ChildProcess::reap() {
  wait_exit(Clock::time_point::max());
  std::lock_guard lock(mu_);
  if (!reaped_) {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    status_ = r == pid_ ? status : -1;
    reaped_ = true;
  }
  return status_;
}

std::string ChildProcess::stderr_tail(std::size_t max) const {
  struct stat st {};
  if (!stderr_ || ::fstat(stderr_.get(), &st) != 0 || st.st_size <= 0) return {};
  auto size = static_cast<std::size_t>(st.st_size);
  std::size_t n = std::min(size, max);
  std::string out(n, '\0');
  ssize_t got = ::pread(stderr_.get(), out.data(), n, static_cast<off_t>(size - n));
  out.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  return out;
}

std::string describe_wait_status(int status) {
  if (status == -1) return "unknown status";
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string find_executable(const std::string& name, const std::string& path_env) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  std::size_t i = 0;
  while (i <= path_env.size()) {
    std::size_t j = path_env.find(':', i);
    if (j == std::string::npos) j = path_env.size();
    std::string dir = path_env.substr(i, j - i);
    // An empty or relative PATH entry would resolve against the daemon's cwd: skip it.
    if (!dir.empty() && dir.front() == '/') {
      std::string candidate = dir + "/" + name;
      struct stat st {};
      if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
          ::access(candidate.c_str(), X_OK) == 0) {
        return candidate;
      }
    }
    i = j + 1;
  }
  return {};
}

}  // namespace mesh::repl
