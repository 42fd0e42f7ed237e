#include "serial_worker.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace mesh::plugin {

SerialWorker::SerialWorker(std::size_t cap) : cap_(cap), thread_([this] { run(); }) {}

SerialWorker::~SerialWorker() {
  stop();
}

bool SerialWorker::post(Job job, bool capped) {
  {
    std::lock_guard lock(mu_);
    if (stopped_ || (capped && capped_waiting_ >= cap_)) return false;
    if (capped) ++capped_waiting_;
    jobs_.emplace_back(std::move(job), capped);
  }
  cv_.notify_all();
  return true;
}

void SerialWorker::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool SerialWorker::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

void SerialWorker::run() {
  for (;;) {
    Job job;
    bool cancelled = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopped_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto [next, capped] = std::move(jobs_.front());
      jobs_.pop_front();
      if (capped) --capped_waiting_;
      job = std::move(next);
      cancelled = stopped_;
    }
    try {
      job(cancelled);
    } catch (const std::exception& e) {
      spdlog::error("plugin manager: a background job failed: {}", e.what());
    } catch (...) {
      spdlog::error("plugin manager: a background job failed");
    }
  }
}

}  // namespace mesh::plugin
