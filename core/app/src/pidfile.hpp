// The daemon's pid file doubles as the "one daemon per root" lock (flock), so a daemon killed
// with -9 leaves no stale lock behind: the kernel drops it with the process.
#pragma once

#include <filesystem>

#include "mesh/base/result.hpp"

namespace mesh::app {

class PidLock {
 public:
  static Result<PidLock> acquire(const std::filesystem::path& path);
  PidLock(PidLock&& other) noexcept;
  PidLock& operator=(PidLock&&) = delete;
  ~PidLock();

  // The pid written in the file by whoever holds the lock, or -1.
  static long holder(const std::filesystem::path& path);

 private:
  PidLock(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::filesystem::path path_;
};

}  // namespace mesh::app
