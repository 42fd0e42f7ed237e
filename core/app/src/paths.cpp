#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "mesh/app/app.hpp"
#include "mesh/base/files.hpp"
#include "mesh/config/config.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::app {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view kPluginsPlaceholder = "__MESH_INSTALLED_PLUGINS__";
constexpr std::size_t kMaxManifestBytes = 64 * 1024;
constexpr std::size_t kMaxPluginsListed = 256;

// One line each for the first-party plugins (ARCHITECTURE.md §1), shown where they are
// installed; a third-party plugin is listed by id and version only.
std::string first_party_summary(const std::string& id) {
  static const std::map<std::string, std::string> known{
      {"replication", "mirror repos between members"},
      {"ci", "pipelines from .mesh/mesh-ci.yml"},
      {"runner-shell", "run CI jobs with `sh -e` in a worktree"},
      {"runner-docker", "run CI jobs in containers via the docker CLI"},
      {"issues", "replicated issue board"},
      {"updater", "signed self-update (`mesh update`)"},
  };
  auto it = known.find(id);
  return it == known.end() ? std::string() : it->second;
}

// Whether an executable named `name` is on $PATH.
bool on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (std::size_t at = 0; at <= dirs.size();) {
    std::size_t end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(at, end - at);
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
    at = end + 1;
  }
  return false;
}

// The [plugins] comment of a new mesh.toml: what is installed, and `enabled` only naming
// replication when it is there (enabling a missing plugin would fail at every start).
std::string fill_plugins(std::string toml, const std::vector<InstalledPlugin>& installed) {
  std::string list;
  std::size_t width = 0;
  for (const auto& p : installed) width = std::max(width, p.id.size() + 2);
  for (const auto& p : installed) {
    std::string quoted = "\"" + p.id + "\"";
    std::string line = quoted + std::string(width - quoted.size() + 2, ' ') + p.version;
    if (!p.summary.empty()) line += "  " + p.summary;
    list += (list.empty() ? "" : "\n#   ") + line;
  }
  if (list.empty()) list = "(none found)";
  if (auto pos = toml.find(kPluginsPlaceholder); pos != std::string::npos) {
    toml.replace(pos, kPluginsPlaceholder.size(), list);
  }
  // Enabled on a new node: every bundled feature that is installed here (a user expects the
  // repo pages, CI, issues and updates to be there), runner-docker only where a docker CLI is
  // on PATH (it fails to start without one). Running teammates' jobs stays off ([runner]).
  std::string enabled;
  for (const char* id :
       {"replication", "browse", "issues", "ci", "runner-shell", "runner-docker", "updater"}) {
    const bool have = std::any_of(installed.begin(), installed.end(),
                                  [&](const InstalledPlugin& p) { return p.id == id; });
    if (!have || (std::string_view(id) == "runner-docker" && !on_path("docker"))) continue;
    enabled += (enabled.empty() ? "\"" : ", \"") + std::string(id) + "\"";
  }
  const std::string enabled_line = "\nenabled = [\"replication\"]\n";
  if (auto pos = toml.find(enabled_line); pos != std::string::npos) {
    toml.replace(pos, enabled_line.size(), "\nenabled = [" + enabled + "]\n");
  }
  return toml;
}

}  // namespace

fs::path config_path(const fs::path& root) {
  return root / "mesh.toml";
}
fs::path socket_path(const fs::path& root) {
  return root / "mesh.sock";
}
fs::path pid_path(const fs::path& root) {
  return root / "mesh.pid";
}
fs::path log_path(const fs::path& root) {
  return root / "logs" / "mesh.log";
}

std::string default_node_name() {
  if (const char* user = std::getenv("USER"); user && *user) return user;
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_name) return pw->pw_name;
  return "mesh-node";
}

// Installed layout: <prefix>/bin/mesh and <prefix>/<libdir>/mesh/plugins; build tree:
// <build>/cli/mesh and <build>/plugins.
std::vector<fs::path> default_plugin_dirs() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> dirs;
  if (ec) return dirs;
  fs::path bin = exe.parent_path();
  dirs.push_back(bin.parent_path() / MESH_PLUGIN_RELDIR);
  dirs.push_back(bin.parent_path() / "plugins");
  return dirs;
}

std::vector<fs::path> plugin_search_dirs(const fs::path& root) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  if (fs::exists(config_path(root), ec)) {
    if (auto cfg = config::load(config_path(root))) {
      // As the plugin manager reads them: "~/..." is relative to $HOME.
      const char* home = std::getenv("HOME");
      for (const auto& p : cfg->plugins.paths) {
        if (p.starts_with("~/") && home && *home) {
          dirs.push_back(fs::path(home) / p.substr(2));
        } else {
          dirs.emplace_back(p);
        }
      }
    }
  }
  for (auto& d : default_plugin_dirs()) dirs.push_back(std::move(d));
  return dirs;
}

std::vector<InstalledPlugin> installed_plugins(const std::vector<fs::path>& dirs) {
  std::map<std::string, InstalledPlugin> found;
  for (const auto& dir : dirs) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (found.size() >= kMaxPluginsListed) break;
      const auto& path = it->path();
      if (path.extension() != ".json" || !it->is_regular_file(ec)) continue;
      std::string id = path.stem().string();
      if (!config::valid_plugin_id(id) || found.count(id)) continue;
      auto text = read_file(path, kMaxManifestBytes);
      if (!text) continue;
      boost::system::error_code jec;
      auto doc = json::parse(*text, jec);
      if (jec || !doc.is_object()) continue;
      const auto* mid = doc.as_object().if_contains("id");
      const auto* ver = doc.as_object().if_contains("version");
      if (!mid || !mid->is_string() || mid->as_string() != id) continue;
      found[id] = InstalledPlugin{id, ver && ver->is_string() ? std::string(ver->as_string()) : "",
                                  first_party_summary(id)};
    }
  }
  std::vector<InstalledPlugin> out;
  for (auto& [id, p] : found) out.push_back(std::move(p));
  return out;
}

Result<InitResult> init_root(const fs::path& root, const std::string& name) {
  if (root.empty()) return make_error(Errc::invalid, "the root directory is empty");
  if (name.size() > 64 || name.find_first_of("\n\r\t") != std::string::npos) {
    return make_error(Errc::invalid, "node names are at most 64 characters on one line");
  }
  if (auto st = ensure_dir(root); !st) return st.error();
  for (const char* sub : {"logs", "data"}) {
    if (auto st = ensure_dir(root / sub); !st) return st.error();
  }
  std::error_code ec;
  bool had_key = fs::exists(identity::Identity::key_path(root), ec);
  auto id = identity::Identity::load_or_create(root);
  if (!id) return id.error();

  InitResult out;
  out.root = fs::absolute(root, ec);
  out.config = config_path(out.root);
  out.id = id->id();
  out.created = !had_key;
  if (!fs::exists(out.config, ec)) {
    std::string node_name = name.empty() ? default_node_name() : name;
    std::string toml =
        fill_plugins(config::default_toml(node_name), installed_plugins(default_plugin_dirs()));
    if (auto st =
            write_file_atomic(out.config, toml, fs::perms::owner_read | fs::perms::owner_write);
        !st) {
      return st.error();
    }
    out.created = true;
  }
  auto cfg = config::load(out.config);
  if (!cfg) return cfg.error();
  out.name = cfg->node.name;
  return out;
}

}  // namespace mesh::app
