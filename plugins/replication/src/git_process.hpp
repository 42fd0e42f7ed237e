// Child processes for the smart HTTP service: posix_spawn with an argv vector and an explicit
// environment, never a shell, never the daemon's fds.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mesh::repl {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct ProcessSpec {
  std::string path;               // the executable, absolute
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // the whole environment, "KEY=value"
  bool pipe_stdin = false;        // else stdin is /dev/null
};

// One child in its own process group, stdin/stdout on pipes (O_CLOEXEC on our side) and stderr
// in a memfd, every other fd closed. Signals go to the whole group, which reaches git's own
// children (pack-objects, index-pack), and only while the child is unreaped: an unreaped child
// holds its pid, so a recycled pid is never signalled. The destructor kills and reaps a child
// still running, so no path leaves a zombie.
class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  static std::unique_ptr<ChildProcess> spawn(const ProcessSpec& spec, std::string* err);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  Fd take_stdin() { return std::move(stdin_); }
  Fd take_stdout() { return std::move(stdout_); }
  pid_t pid() const { return pid_; }

  // Signals the process group unless the child is already reaped. Any thread.
  void signal(int sig);
  // Waits until the child has exited or `deadline` passed, without reaping it. True if exited.
  bool wait_exit(Clock::time_point deadline);
  // SIGTERM, up to `grace` for it to exit, then SIGKILL; reaps.
  void terminate(std::chrono::milliseconds grace);
  // Waits for the exit and reaps; returns the wait status. Idempotent.
  int reap();
  // The last `max` bytes the child wrote to stderr.
  std::string stderr_tail(std::size_t max) const;

 private:
  ChildProcess() = default;

  pid_t pid_ = -1;
  Fd stdin_, stdout_, stderr_, pidfd_;
  std::mutex mu_;  // guards reaped_ against signal() from another thread
  bool reaped_ = false;
  int status_ = 0;
};

// Human-readable wait status: "exit 128", "signal 15".
std::string describe_wait_status(int status);

// `name` if it contains '/', else its first match on `path_env` (a PATH value); empty if none
// is executable.
std::string find_executable(const std::string& name, const std::string& path_env);

}  // namespace mesh::repl
