// A job's process tree for runners: spawned with an argv (never a shell string of ours), its
// own process group, a clean environment, stdout+stderr merged into one pipe, every other file
// descriptor closed. Output is pumped to a callback until the process exits; on cancel the whole
// group gets SIGTERM, then SIGKILL, and after the exit any member still alive (a background
// child) is killed too, so nothing of a job outlives it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mesh::runner {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is a path
  std::string cwd;
  std::vector<std::pair<std::string, std::string>> env;  // the whole environment
  // After a cancel, how long the group has between SIGTERM and SIGKILL.
  std::chrono::milliseconds term_grace{1500};
};

struct ProcessResult {
  bool started = false;
  std::string error;   // why it did not start
  int exit_code = -1;  // the exit status, or 128 + signal
  bool cancelled = false;
};

class JobProcess {
 public:
  // Runs to completion on the calling thread, handing output to on_output as it comes.
  ProcessResult run(const ProcessSpec& spec,
                    const std::function<void(std::string_view)>& on_output);
  // From any thread: signals the process group (at most once; run() does the rest).
  void cancel();

 private:
  std::atomic<int> pgid_{0};
  std::atomic<bool> cancel_{false};
  std::mutex wake_mu_;      // guards the write end of the wake pipe against a concurrent close
  int wake_[2] = {-1, -1};  // [1] is written by cancel() to wake run()'s poll
};

// The commands of a job as one `sh -e` script: each command is echoed as "$ <command>" before
// it runs, quoted so that the echo itself can never execute anything.
std::string job_script(const std::vector<std::string>& commands);
// 'text' with every ' written as '\'' : a literal for sh.
std::string sh_single_quote(std::string_view text);

}  // namespace mesh::runner
