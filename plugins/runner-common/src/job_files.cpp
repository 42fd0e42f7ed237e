#include "job_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace mesh::runner {

namespace fs = std::filesystem;

bool JobFiles::prepare_root(const fs::path& data_dir, std::string* error) {
  std::error_code ec;
  fs::remove_all(data_dir / "jobs", ec);
  if (ec) {
    *error = "cannot clean " + (data_dir / "jobs").string() + ": " + ec.message();
    return false;
  }
  if (::mkdir((data_dir / "jobs").c_str(), 0700) != 0 && errno != EEXIST) {
    *error = "cannot create " + (data_dir / "jobs").string() + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

JobFiles::JobFiles(const fs::path& data_dir, std::uint64_t job_id)
    : dir_(data_dir / "jobs" / std::to_string(job_id)) {
  if (::mkdir(dir_.c_str(), 0700) != 0) {
    error_ = "cannot create " + dir_.string() + ": " + std::strerror(errno);
    return;
  }
  ok_ = true;
}

JobFiles::~JobFiles() {
  if (!ok_) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

bool JobFiles::write(std::string_view name, std::string_view content) {
  auto path = dir_ / std::string(name);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    error_ = "cannot write " + path.string() + ": " + std::strerror(errno);
    return false;
  }
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = "cannot write " + path.string() + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return true;
}

}  // namespace mesh::runner
