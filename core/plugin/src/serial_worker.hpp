// One thread that runs jobs in order, for work that must not run on its caller's thread: the
// plugin manager's reloads, which wait for plugins, must not run on the control socket's I/O
// thread. Bounded: at most `cap` capped jobs wait at a time. Internal to the plugin module.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace mesh::plugin {

class SerialWorker {
 public:
  // cancelled: the worker stopped before the job could run; it should only answer.
  using Job = std::function<void(bool cancelled)>;

  explicit SerialWorker(std::size_t cap);
  ~SerialWorker();  // stop()
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  // False (and the job is dropped) once stopped, or for a capped job when `cap` capped jobs
  // are waiting already. Uncapped jobs (the manager's own follow-ups) are few by construction.
  bool post(Job job, bool capped);
  // Jobs still waiting run with cancelled = true; returns once the thread has ended (unless
  // called from a job, which is then the last).
  void stop();
  bool stopped() const;

 private:
  void run();

  const std::size_t cap_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Job, bool>> jobs_;  // job, capped
  std::size_t capped_waiting_ = 0;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace mesh::plugin
