// The plugin's settings, the [plugins.issues] table of mesh.toml (docs/issues.md, "Settings").
// One parser for both the host's check before a reload (check_config) and start().
#pragma once

#include <cstdint>
#include <string>

#include "board.hpp"

namespace mesh::issues {

struct Settings {
  // Close issues named by "fixes #12" in commits pushed to this node's default branches.
  bool close_from_commits = true;
  // At most this many new commits of one ref update are read for closing keywords.
  std::uint32_t max_commits_per_push = 1000;
  // How long `mesh issues ...` and the board's forms wait for their own op to come back through
  // the feed before answering anyway (the op is published either way).
  std::uint32_t reply_wait_ms = 5000;
  // What one member may make every node keep (docs/issues.md, "Limits per member"):
  // max_issues_per_member, max_comments_per_member, max_bytes_per_member. Every node must use
  // the same values: a node with lower ones refuses ops the others keep.
  MemberLimits member_limits;

  // Throws std::invalid_argument with a message that starts with the key ("reply_wait_ms: ...")
  // for anything but a JSON object of known keys with valid values.
  static Settings parse(const std::string& json);
};

}  // namespace mesh::issues
