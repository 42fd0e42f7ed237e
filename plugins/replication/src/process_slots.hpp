// The cap on concurrent git children. Git clients do not retry a 503, so a burst (ten clones
// at once) waits briefly for a slot in a bounded queue instead of failing; only a full queue
// or a long wait answers 503.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace mesh::repl {

class ProcessSlots {
 public:
  ProcessSlots(unsigned max, unsigned max_waiting, std::chrono::milliseconds wait)
      : max_(max == 0 ? 1 : max), max_waiting_(max_waiting), wait_(wait) {}

  // A slot, released on destruction unless released earlier.
  class Slot {
   public:
    explicit Slot(ProcessSlots& slots) : slots_(slots) {}
    ~Slot() { release(); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    // Waits (bounded) for a free slot; false: busy, answer 503.
    bool acquire();
    void release();

   private:
    ProcessSlots& slots_;
    bool held_ = false;
  };

  unsigned active() const {
    std::lock_guard lock(mu_);
    return active_;
  }
  unsigned max() const { return max_; }

 private:
  const unsigned max_;
  const unsigned max_waiting_;
  const std::chrono::milliseconds wait_;
  mutable std::mutex mu_;
  std::condition_variable free_;
  unsigned active_ = 0;
  unsigned waiting_ = 0;
};

}  // namespace mesh::repl
