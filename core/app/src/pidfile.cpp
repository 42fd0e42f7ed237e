#include "pidfile.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "mesh/base/files.hpp"

namespace mesh::app {

Result<PidLock> PidLock::acquire(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::io, path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    long pid = holder(path);
    std::string who = pid > 0 ? " (pid " + std::to_string(pid) + ")" : "";
    return make_error(Errc::exists, "a mesh daemon is already running for " +
                                        path.parent_path().string() + who +
                                        "; stop it with: mesh stop");
  }
  std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) < 0) {
    int e = errno;
    ::close(fd);
    return make_error(Errc::io, path.string() + ": " + std::strerror(e));
  }
  return PidLock(fd, path);
}

PidLock::PidLock(PidLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

PidLock::~PidLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);
}

long PidLock::holder(const std::filesystem::path& path) {
  auto text = read_file(path, 64);
  if (!text) return -1;
  try {
    return std::stol(*text);
  } catch (...) {
    return -1;
  }
}

}  // namespace mesh::app
