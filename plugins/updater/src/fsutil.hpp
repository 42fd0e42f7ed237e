// Small file-system helpers of the updater: one open file shared by every check (so what is
// verified is what is unpacked), bounded reads and crash-safe replacement of state files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "errors.hpp"

namespace mesh::updater {

// An open file descriptor, closed on destruction. Move-only.
class OpenFile {
 public:
  OpenFile() = default;
  explicit OpenFile(int fd) : fd_(fd) {}
  OpenFile(OpenFile&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  OpenFile& operator=(OpenFile&& o) noexcept;
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile();

  // Opens a regular file read-only; refuses a symlink in the last component, and anything that
  // is not a regular file.
  static Result<OpenFile> open_read(const std::filesystem::path& path);

  int fd() const { return fd_; }
  Result<std::uint64_t> size() const;
  Status rewind() const;  // back to offset 0, for another pass over the same file

 private:
  int fd_ = -1;
};

// The whole file if it is at most max_bytes; a larger one is refused, not truncated.
// A missing file is Errc::not_found.
Result<std::string> read_small_file(const std::filesystem::path& path, std::uint64_t max_bytes);

// Replaces `path` with `text` so that a crash or power loss leaves the old or the new content
// (write aside, fsync, rename, fsync the directory).
Status write_file_durable(const std::filesystem::path& path, const std::string& text);

// fsync on a directory, so that a rename or create inside it is durable.
Status sync_directory(const std::filesystem::path& dir);

}  // namespace mesh::updater
