// [plugins.replication] in mesh.toml, validated as a whole before anything is applied: one pure
// function, so the daemon's validate-before-apply hook (check_config) can call it as it is.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mesh::repl {

struct Settings {
  std::chrono::milliseconds push_wait{3000};
  unsigned max_git_processes = 8;
  std::uint64_t max_push_bytes = std::uint64_t{2} << 30;
  std::string repos_dir;  // empty: <root>/repos
  // Per member (docs/replication.md "Per-member limits"): repos created on this node because of
  // its refs events, and bytes fetched for its pushes, per hour.
  std::uint64_t max_new_repos_per_hour = 100;
  std::uint64_t max_fetch_bytes_per_hour = std::uint64_t{16} << 30;
};

// The plugin's table as JSON (what the host's config_json gives). nullopt with *error naming
// the key and the rule ("[plugins.replication] max_push_bytes must be an integer from 1 to
// 68719476736"); an unknown key is an error too, so a typo never leaves a default in place.
std::optional<Settings> parse_settings(std::string_view json, std::string* error);

// For check_config: "" if the table is valid, else "<key>: <rule>" (the form the daemon's
// reload error locates in mesh.toml by the key's line), or "<rule>" for the table as a whole.
std::string check_settings(std::string_view json);

}  // namespace mesh::repl
