#include "loader.hpp"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "abi_util.hpp"
#include "manifest.hpp"
#include "mesh/base/files.hpp"

namespace mesh::plugin {

std::string check_abi(std::uint32_t major, std::uint32_t minor) {
  const auto host = abi_text(MESH_ABI_MAJOR, MESH_ABI_MINOR);
  if (major != MESH_ABI_MAJOR)
    return "built for ABI " + abi_text(major, minor) + ", host is " + host;
  if (minor > MESH_ABI_MINOR)
    return "built for ABI " + abi_text(major, minor) + " which is newer than the host's " + host;
  return {};
}

std::string describe(int32_t rc, const char* err) {
  std::string msg = plugin_message(err, MESH_ERR_CAP);
  if (msg.empty()) msg = std::string("error ") + code_name(rc) + " without a message";
  return msg;
}

std::string check_settings(const mesh_plugin_descriptor* d, const std::string& settings) {
  if (!MESH_HAS_FIELD(d, mesh_plugin_descriptor, check_config) || !d->check_config) return {};
  char err[MESH_ERR_CAP] = {0};
  int32_t rc = MESH_E_INTERNAL;
  try {
    rc = d->check_config(settings.data(), settings.size(), err, sizeof err);
  } catch (...) {
    return "check_config threw an exception across the ABI";
  }
  return rc == MESH_OK ? std::string() : describe(rc, err);
}

Loaded load_library(const std::string& id, const std::vector<std::filesystem::path>& dirs,
                    std::vector<boost::dll::shared_library>& libraries,
                    const std::function<bool(const std::string&)>& taken) {
  Loaded out;
  auto fail = [&out](std::string why) {
    out.desc = nullptr;
    out.error = std::move(why);
    return out;
  };

  // 1. Find <id>.json in the search directories, configured paths first.
  std::filesystem::path manifest_path;
  std::string looked;
  for (const auto& dir : dirs) {
    std::error_code ec;
    auto candidate = dir / (id + ".json");
    if (std::filesystem::is_regular_file(candidate, ec)) {
      manifest_path = candidate;
      break;
    }
    looked += (looked.empty() ? "" : ", ") + dir.string();
  }
  if (manifest_path.empty())
    return fail("not found (no " + id + ".json in " + (looked.empty() ? "any directory" : looked) +
                ")");

  // 2. Manifest: parse, validate, negotiate the ABI before any code is mapped.
  auto text = read_file(manifest_path, kMaxManifestBytes);
  if (!text) return fail("manifest: " + text.error().message);  // the message names the file
  auto man = parse_manifest(*text);
  if (!man) return fail(manifest_path.string() + ": " + man.error().message);
  out.version = man->version;
  out.abi = abi_text(man->abi_major, man->abi_minor);
  if (man->id != id)
    return fail("manifest " + manifest_path.string() + " is for id '" + man->id + "'");
  if (auto e = check_abi(man->abi_major, man->abi_minor); !e.empty()) return fail(e);

  // 3. The library must be exactly the one the manifest describes.
  auto lib_path = manifest_path.parent_path() / man->library;
  auto sha = sha256_file(lib_path);
  if (!sha) return fail(sha.error().message);
  if (*sha != man->sha256)
    return fail(man->library + " does not match its manifest (sha256 " + sha->substr(0, 16) +
                "... instead of " + man->sha256.substr(0, 16) + "...); rebuild or reinstall it");

  // 4. Map it (RTLD_NOW: unresolved symbols fail here, not later) and find the entry.
  boost::dll::fs::error_code ec;
  boost::dll::shared_library lib;
  dlerror();  // clear any stale message
  lib.load(std::filesystem::absolute(lib_path),
           boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec || !lib.is_loaded()) {
    const char* why = dlerror();
    return fail("cannot load " + lib_path.string() + ": " +
                (why ? sanitize(why, 512) : ec.message()));
  }
  libraries.push_back(lib);  // kept: its code stays mapped while the daemon runs
  if (!lib.has(MESH_PLUGIN_ENTRY_SYMBOL))
    return fail(std::string("no entry symbol ") + MESH_PLUGIN_ENTRY_SYMBOL);
  auto& entry =
      lib.get<const mesh_plugin_descriptor*(uint32_t, uint32_t)>(MESH_PLUGIN_ENTRY_SYMBOL);

  // 5. Negotiate with the descriptor.
  const mesh_plugin_descriptor* d = nullptr;
  try {
    d = entry(MESH_ABI_MAJOR, MESH_ABI_MINOR);
  } catch (...) {
    return fail("threw an exception across the ABI in mesh_plugin_entry");
  }
  if (!d)
    return fail("mesh_plugin_entry returned no descriptor (the plugin does not support host ABI " +
                abi_text(MESH_ABI_MAJOR, MESH_ABI_MINOR) + ")");
  if (d->struct_size < offsetof(mesh_plugin_descriptor, id))
    return fail("descriptor is too small (" + std::to_string(d->struct_size) + " bytes)");
  out.abi = abi_text(d->abi_major, d->abi_minor);
  if (auto e = check_abi(d->abi_major, d->abi_minor); !e.empty()) return fail(e);
  // Every ABI has create..destroy; fields after them (check_config, 1.3) are read only where
  // struct_size covers them.
  constexpr std::size_t kMinDescriptor = offsetof(mesh_plugin_descriptor, check_config);
  if (d->struct_size < kMinDescriptor)
    return fail("descriptor is too small (" + std::to_string(d->struct_size) + " bytes, at least " +
                std::to_string(kMinDescriptor) + " are needed)");
  if (!d->id || !d->version || !d->create || !d->start || !d->stop || !d->destroy)
    return fail("descriptor has a null id, version or function");
  const std::string desc_id(d->id, strnlen(d->id, 65));
  const std::string desc_version =
      sanitize(std::string_view(d->version, strnlen(d->version, 65)), 64);
  if (desc_id != man->id) {
    std::string shown = sanitize(desc_id, 64);
    if (taken(desc_id))
      return fail("its descriptor claims id '" + shown +
                  "', which is already taken by a running plugin");
    return fail("descriptor id '" + shown + "' does not match the manifest id '" + man->id + "'");
  }
  if (taken(desc_id)) return fail("a plugin with this id is already running");
  if (desc_version != man->version)
    spdlog::warn("plugin '{}': descriptor version {} differs from the manifest's {}", id,
                 desc_version, man->version);
  out.version = desc_version;
  out.desc = d;
  return out;
}

}  // namespace mesh::plugin
