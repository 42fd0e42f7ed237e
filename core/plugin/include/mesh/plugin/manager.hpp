// Loads plugins (manifest + Boost.DLL, RTLD_NOW|RTLD_LOCAL), negotiates the ABI, hands each
// its host table and runs the lifecycle. The only module that includes sdk/ headers.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mesh/config/config.hpp"
#include "mesh/control/control.hpp"
#include "mesh/http/router.hpp"

namespace boost::asio {
class io_context;
}

namespace mesh::plugin {

// What `mesh plugins` shows for each configured or loaded plugin.
struct PluginInfo {
  std::string id;
  std::string version;   // from the descriptor (or manifest when it failed before that)
  std::string abi;       // "1.0"
  bool enabled = false;  // listed in [plugins] enabled
  std::string state;     // "running" | "stopped" | "failed"
  std::string error;     // why it failed; empty otherwise
};

struct HostServices {
  boost::asio::io_context& io;                 // timers
  std::shared_ptr<http::Router> router;        // plugin HTTP routes
  std::shared_ptr<control::Registry> verbs;    // plugin CLI verbs
  std::filesystem::path data_root;             // <root>/data; each plugin gets <data_root>/<id>
  std::vector<std::filesystem::path> search_dirs;  // where <id>.so and <id>.json are looked up
  std::size_t executor_threads = 2;            // the plugin executor's size
};

class Manager {
 public:
  explicit Manager(HostServices services);
  ~Manager();  // stops everything (reverse order)
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Brings the running set in line with the config: stops and destroys plugins no longer
  // enabled, loads and starts newly enabled ones (in the listed order), and refreshes settings.
  // A plugin that fails is recorded with its error and skipped; this never throws.
  void apply(const config::PluginsConfig& plugins);

  std::vector<PluginInfo> list() const;

  // Stops and destroys every running plugin, in reverse start order.
  void stop_all();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mesh::plugin
