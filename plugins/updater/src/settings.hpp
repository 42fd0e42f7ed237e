// [plugins.updater] in mesh.toml, validated in one pure function (also the plugin's
// check_config hook, so `mesh reload` refuses a bad value before anything changes).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "minisign.hpp"

namespace mesh::updater {

// The project's own GitHub releases (a GitHub-releases-shaped API root, docs/updates.md).
inline constexpr std::string_view kDefaultSource = "https://api.github.com/repos/mesh-vcs/mesh";

struct Settings {
  std::string source{kDefaultSource};
  // The minisign public key releases must be signed with. None: every update is refused
  // with a message saying so (a node never trusts what it cannot check).
  std::optional<PublicKey> release_key;
  std::uint64_t max_archive_bytes = 512ull << 20;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds stall_timeout{30'000};  // no byte for this long: the attempt fails
  int attempts = 4;                                 // per file, resuming where a drop stopped
  std::chrono::seconds health_timeout{60};          // the new daemon must be healthy by then
  bool serve = true;              // serve the archives held here to members (mesh update --from)
  std::size_t keep_archives = 2;  // verified archives kept for members, newest first
};

// Parses the plugin's table as the host hands it over (JSON). Unknown keys, wrong types and
// values out of range throw std::invalid_argument naming the setting.
Settings parse_settings(std::string_view json);

// The message for a node without release_key.
std::string no_key_message();

}  // namespace mesh::updater
