#include "state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mesh::repl {
namespace fs = std::filesystem;

std::optional<std::string> read_state_file(const fs::path& file, std::size_t max_bytes,
                                           std::string* err) {
  err->clear();
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) {
    if (ec != std::errc::no_such_file_or_directory) *err = file.string() + ": " + ec.message();
    return std::nullopt;
  }
  if (size > max_bytes) {
    *err = file.string() + " is over " + std::to_string(max_bytes) + " bytes";
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in) {
    *err = "cannot read " + file.string();
    return std::nullopt;
  }
  return std::move(ss).str();
}

namespace {

bool sync_fd(const fs::path& path, int flags, std::string* err) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    *err = "cannot sync " + path.string() + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  ::close(fd);
  return true;
}

}  // namespace

bool write_state_file(const fs::path& file, const std::string& text, bool durable,
                      std::string* err) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  fs::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      *err = "cannot write " + tmp.string();
      return false;
    }
  }
  if (durable && !sync_fd(tmp, O_RDONLY, err)) return false;
  fs::rename(tmp, file, ec);
  if (ec) {
    *err = "cannot replace " + file.string() + ": " + ec.message();
    return false;
  }
  return !durable || sync_fd(file.parent_path(), O_RDONLY | O_DIRECTORY, err);
}

}  // namespace mesh::repl
