// A fixed set of reader threads with a bounded queue: every libgit2 call of the plugin runs
// here (libgit2 keeps per-thread state, which these threads free when they are joined, before
// the plugin is unloaded), and the host's executor only hands work over.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mesh::browse {

class Pool {
 public:
  Pool(std::size_t threads, std::size_t queue_cap);
  ~Pool();  // stop()
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // false when the queue is full or the pool stopped: the caller answers 503 itself.
  bool submit(std::function<void()> job);
  // Runs what is queued, then joins every thread. Idempotent.
  void stop();

 private:
  void run();

  const std::size_t cap_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace mesh::browse
