// Small filesystem helpers with explicit size limits and durable writes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "mesh/base/result.hpp"

namespace mesh {

// Reads a whole file; refuses files larger than max_bytes.
Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes);

// Writes via a temporary file, fsync and rename, so readers see the old or the new content.
Status write_file_atomic(const std::filesystem::path& path, std::string_view content,
                         std::filesystem::perms perms = std::filesystem::perms::owner_read |
                                                        std::filesystem::perms::owner_write);

// Creates a directory (and parents) with the given permissions if missing.
Status ensure_dir(const std::filesystem::path& path,
                  std::filesystem::perms perms = std::filesystem::perms::owner_all);

}  // namespace mesh
