// Composition root: builds every module in order, runs the daemon, stops it in reverse.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mesh/base/result.hpp"

namespace mesh::app {

struct InitResult {
  std::string name;
  std::string id;
  std::filesystem::path root;
  std::filesystem::path config;
  bool created = false;  // false when the root was already initialised
};

// Creates the root, the identity and a commented mesh.toml. Idempotent; never replaces a key.
Result<InitResult> init_root(const std::filesystem::path& root, const std::string& name);

struct DaemonOptions {
  std::filesystem::path root;
  std::optional<std::string> listen;  // overrides [http] listen
  bool foreground_log = true;         // also log to stderr
  // Called once the daemon is ready (socket answering), with the bound address.
  std::function<void(const std::string& listen)> on_ready;
};

// Runs the daemon until SIGINT/SIGTERM or `mesh stop`. Returns the process exit code; prints
// "error: ..." to stderr for start-up failures (bad config, port in use, already running).
int run_daemon(const DaemonOptions& options);

// Where plugins are looked for: the root's [plugins] paths ("~/" expanded; none when the root
// has no valid mesh.toml yet), then <prefix>/<libdir>/mesh/plugins next to the running binary,
// then <build>/plugins in a build tree.
std::vector<std::filesystem::path> plugin_search_dirs(const std::filesystem::path& root);
// The last two of those: what the daemon searches after the configured paths.
std::vector<std::filesystem::path> default_plugin_dirs();

struct InstalledPlugin {
  std::string id;
  std::string version;
  std::string summary;  // a one-line description for first-party plugins, else empty
};
// Plugins with a readable manifest (<id>.json naming that id) in dirs, sorted by id; the first
// directory wins for an id found twice. No code is loaded.
std::vector<InstalledPlugin> installed_plugins(const std::vector<std::filesystem::path>& dirs);

// Paths inside a root.
std::filesystem::path config_path(const std::filesystem::path& root);
std::filesystem::path socket_path(const std::filesystem::path& root);
std::filesystem::path pid_path(const std::filesystem::path& root);
std::filesystem::path log_path(const std::filesystem::path& root);

}  // namespace mesh::app
