#include "process_slots.hpp"

namespace mesh::repl {

bool ProcessSlots::Slot::acquire() {
  std::unique_lock lock(slots_.mu_);
  if (slots_.active_ >= slots_.max_) {
    if (slots_.waiting_ >= slots_.max_waiting_ || slots_.wait_.count() <= 0) return false;
    ++slots_.waiting_;
    bool got =
        slots_.free_.wait_for(lock, slots_.wait_, [&] { return slots_.active_ < slots_.max_; });
    --slots_.waiting_;
    if (!got) return false;
  }
  ++slots_.active_;
  held_ = true;
  return true;
}

void ProcessSlots::Slot::release() {
  if (!held_) return;
  {
    std::lock_guard lock(slots_.mu_);
    --slots_.active_;
    held_ = false;
  }
  slots_.free_.notify_one();
}

}  // namespace mesh::repl
