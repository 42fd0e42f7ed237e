// Release archives (.tar.gz) are checked entry by entry before anything is written, then
// extracted into a fresh directory beside the target and renamed into place, so a target is
// either absent or complete.
//
// Allowed: regular files, directories and symlinks, all under one top-level directory (the
// package's mesh-<version>-linux-<arch>/), whose contents become the target. Refused: absolute
// paths, "." or ".." components, duplicate entries, hard links, devices, fifos, sparse files,
// setuid/setgid/sticky or world-writable modes, a symlink that is absolute or resolves outside
// the tree, an entry (or a link target) that passes through a symlink, a file used as a
// directory, and anything over the limits (entry count, per-file and total size, path length,
// depth, and the expanded stream, so a gzip bomb stops early). Modes are normalised on
// extraction (0755 for directories and executables, 0644 otherwise); owners, xattrs and ACLs
// are never restored.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "errors.hpp"
#include "fsutil.hpp"

namespace mesh::updater {

struct ArchiveLimits {
  std::size_t max_entries = 10000;
  std::uint64_t max_entry_bytes = 1ull << 30;
  std::uint64_t max_total_bytes = 2ull << 30;  // sum of the regular files' sizes
  std::size_t max_path = 1024;                 // bytes, of an entry's path or a link's target
  std::size_t max_depth = 32;                  // path components
};

struct ArchiveSummary {
  std::size_t entries = 0;
  std::size_t files = 0;
  std::size_t dirs = 0;
  std::size_t symlinks = 0;
  std::uint64_t total_bytes = 0;  // regular files
};

// Reads the whole archive (from its start) and checks every entry. Writes nothing.
Result<ArchiveSummary> check_archive(const OpenFile& file, std::string_view top,
                                     const ArchiveLimits& limits = {});

// check_archive, then extracts the contents of top/ so that they end up as `target`, which
// must not exist. On failure nothing is left behind.
Result<ArchiveSummary> extract_archive(const OpenFile& file, std::string_view top,
                                       const std::filesystem::path& target,
                                       const ArchiveLimits& limits = {});

}  // namespace mesh::updater
