// [plugins.browse] in mesh.toml (docs/web.md, "Repo pages"), validated as a whole before
// anything is applied (check_config, and start()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mesh::browse {

struct Settings {
  std::uint64_t max_file_bytes = 1024 * 1024;      // a file view shows at most this (then: raw)
  std::uint64_t max_raw_bytes = 16 * 1024 * 1024;  // /raw serves at most this
  std::size_t max_tree_entries = 1000;             // a directory lists at most this
  std::size_t max_diff_files = 300;                // a commit's diffstat lists at most this
  std::size_t threads = 2;                         // reader threads (libgit2 work)
  std::size_t queue = 64;                          // requests waiting for a thread, then 503

  // Throws std::invalid_argument whose message starts with the key ("max_file_bytes: ...").
  static Settings parse(const std::string& json);
};

}  // namespace mesh::browse
