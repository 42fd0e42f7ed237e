#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "mesh/app/app.hpp"
#include "mesh/base/files.hpp"
#include "mesh/config/config.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::app {
namespace fs = std::filesystem;

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
    if (auto st = write_file_atomic(out.config, config::default_toml(node_name),
                                    fs::perms::owner_read | fs::perms::owner_write);
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
