// Finds a plugin, checks its manifest and library, maps it and negotiates the ABI with its
// descriptor. No plugin code runs here except mesh_plugin_entry. Internal to the plugin module.
#pragma once

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "mesh/plugin.h"

namespace mesh::plugin {

struct Loaded {
  const mesh_plugin_descriptor* desc = nullptr;  // set on success
  // What `mesh plugins` shows, as far as the load got (also on failure).
  std::string version;
  std::string abi;
  std::string error;  // empty on success
};

// Loads <id>.so through <id>.json from the first directory that has the manifest. Mapped
// libraries are appended to `libraries` (never unloaded while the daemon runs). `taken` says
// whether a plugin of that id runs already.
Loaded load_library(const std::string& id, const std::vector<std::filesystem::path>& dirs,
                    std::vector<boost::dll::shared_library>& libraries,
                    const std::function<bool(const std::string&)>& taken);

// "" if a plugin built for major.minor can run on this host, else why not.
std::string check_abi(std::uint32_t major, std::uint32_t minor);

// "" if the plugin's check_config (ABI 1.3, optional) accepts `settings`, else its message.
std::string check_settings(const mesh_plugin_descriptor* d, const std::string& settings);

// The plugin's message from an err buffer, or the code's name when it left none.
std::string describe(int32_t rc, const char* err);

}  // namespace mesh::plugin
