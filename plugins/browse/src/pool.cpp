#include "pool.hpp"

namespace mesh::browse {

Pool::Pool(std::size_t threads, std::size_t queue_cap) : cap_(queue_cap) {
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

Pool::~Pool() {
  stop();
}

bool Pool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= cap_) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void Pool::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Pool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has run
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      job();
    } catch (...) {
      // A job answers its own call; one that threw must not take the thread with it.
    }
  }
}

}  // namespace mesh::browse
