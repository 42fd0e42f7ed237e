#include "fsutil.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mesh::updater {
namespace fs = std::filesystem;
namespace {

Error errno_error(const std::string& what) {
  return make_error(Errc::io, what + ": " + std::strerror(errno));
}

Status write_all(int fd, const char* data, std::size_t len, const fs::path& path) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot write " + path.string());
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

OpenFile& OpenFile::operator=(OpenFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

OpenFile::~OpenFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<OpenFile> OpenFile::open_read(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(Errc::not_found, path.string() + " does not exist");
    return errno_error("cannot open " + path.string());
  }
  OpenFile f(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_error("cannot stat " + path.string());
  if (!S_ISREG(st.st_mode)) return make_error(Errc::io, path.string() + " is not a regular file");
  return f;
}

Result<std::uint64_t> OpenFile::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return errno_error("cannot stat file");
  return static_cast<std::uint64_t>(st.st_size);
}

Status OpenFile::rewind() const {
  if (::lseek(fd_, 0, SEEK_SET) != 0) return errno_error("cannot seek");
  return {};
}

Result<std::string> read_small_file(const fs::path& path, std::uint64_t max_bytes) {
  auto file = OpenFile::open_read(path);
  if (!file) return file.error();
  auto size = file->size();
  if (!size) return size.error();
  if (*size > max_bytes) {
    return make_error(Errc::too_large, path.string() + " is " + std::to_string(*size) +
                                           " bytes, over the limit of " +
                                           std::to_string(max_bytes));
  }
  std::string out;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(file->fd(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read " + path.string());
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    // The file may grow while it is read: the limit holds for what is read, not what was seen.
    if (out.size() > max_bytes) {
      return make_error(Errc::too_large, path.string() + " is over the limit of " +
                                             std::to_string(max_bytes) + " bytes");
    }
  }
  return out;
}

Status sync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open " + dir.string());
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) {
    errno = saved;
    return errno_error("cannot sync " + dir.string());
  }
  return {};
}

Status write_file_durable(const fs::path& path, const std::string& text) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(Errc::io, "cannot create " + dir.string() + ": " + ec.message());
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return errno_error("cannot create " + tmp.string());
  Status st = write_all(fd, text.data(), text.size(), tmp);
  if (st && ::fsync(fd) != 0) st = errno_error("cannot sync " + tmp.string());
  ::close(fd);
  if (st && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = errno_error("cannot replace " + path.string());
  }
  if (!st) {
    ::unlink(tmp.c_str());
    return st;
  }
  return sync_directory(dir);
}

}  // namespace mesh::updater
