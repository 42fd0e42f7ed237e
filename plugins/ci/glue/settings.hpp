// The ci plugin's settings: its [plugins.ci] table of mesh.toml, as JSON (docs/ci.md,
// "Settings"). Whether this node runs jobs at all, and which, is the host's [runner] table,
// which the host enforces on every job and shows in runners_json. One parser for the host's
// check before a reload (check_config) and for start().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "result.hpp"

namespace mesh::ci {

struct Settings {
  // Runs (records and logs) older than this are forgotten by this node.
  std::uint32_t retention_days = 30;
  // At most this many runs are kept; the oldest go first.
  std::uint32_t max_runs = 10'000;
  // A run that waits this long for a free runner fails (the originator's reaper).
  std::uint64_t queue_timeout_ms = 10ull * 60 * 1000;
  // How long an assignee waits for the commit to reach its mirror before it declines.
  std::uint64_t commit_wait_ms = 8'000;
  // A push older than this when the plugin sees it (the plugin was disabled, or its cursor is
  // new) starts no run: CI builds what is pushed now, it does not replay history.
  std::uint64_t push_max_age_ms = 10ull * 60 * 1000;
};

// Unknown keys and bad values are errors that start with the key ("retention_days: ...").
Result<Settings> parse_settings(std::string_view json);

}  // namespace mesh::ci
