#include "layout.hpp"

#include <unistd.h>

#include <fstream>
#include <string_view>

#include "semver.hpp"

namespace mesh::updater {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHowToInstall =
    "install it with ./install.sh (or the release tarball as docs/releasing.md shows), which "
    "sets up <prefix>/lib/mesh/versions/<version>/ and the links mesh update switches";

bool owned_by_dpkg(const fs::path& exe, const fs::path& list) {
  std::ifstream in(list);
  if (!in) return false;
  std::error_code ec;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (fs::path(line) == exe) return true;
    // dpkg lists /usr/bin/mesh; the binary may be reached through a symlinked /usr or /bin.
    if (fs::equivalent(line, exe, ec)) return true;
  }
  return false;
}

}  // namespace

bool valid_version_dir(std::string_view name) {
  return name.size() <= kMaxVersionLength && parse_semver(name).ok();
}

std::optional<std::string> version_link(const fs::path& link) {
  std::error_code ec;
  if (!fs::is_symlink(fs::symlink_status(link, ec))) return std::nullopt;
  fs::path target = fs::read_symlink(link, ec);
  if (ec) return std::nullopt;
  auto it = target.begin();
  if (it == target.end() || *it != "versions") return std::nullopt;
  if (++it == target.end()) return std::nullopt;
  std::string name = it->string();
  if (++it != target.end() || !valid_version_dir(name)) return std::nullopt;
  return name;
}

Result<Install> locate_install(const fs::path& exe, const fs::path& dpkg_list) {
  const std::string shown = exe.string();
  if (shown.ends_with(" (deleted)")) {
    return make_error(Errc::io, "the running binary was deleted (" + shown +
                                    "); restart mesh before updating it");
  }
  if (owned_by_dpkg(exe, dpkg_list)) {
    return make_error(Errc::invalid, "mesh was installed by its Debian package (" + shown +
                                         " belongs to dpkg): upgrade it with apt or dpkg "
                                         "instead; mesh update --check still tells what is new");
  }
  Install in;
  in.exe = exe;
  fs::path bin = exe.parent_path();
  fs::path vdir = bin.parent_path();
  in.versions = vdir.parent_path();
  fs::path mesh_lib = in.versions.parent_path();
  if (exe.filename() != "mesh" || bin.filename() != "bin" || in.versions.filename() != "versions" ||
      mesh_lib.filename() != "mesh" || mesh_lib.parent_path().filename() != "lib" ||
      !valid_version_dir(vdir.filename().string())) {
    return make_error(Errc::invalid,
                      "mesh update manages installed versions side by side, but this daemon "
                      "runs " +
                          shown +
                          ", which is not <prefix>/lib/mesh/versions/<version>/"
                          "bin/mesh: " +
                          std::string(kHowToInstall));
  }
  in.running = vdir.filename().string();
  in.prefix = mesh_lib.parent_path().parent_path();
  in.current = version_link(mesh_lib / "current");
  in.previous = version_link(mesh_lib / "previous");
  if (!in.current) {
    return make_error(Errc::invalid,
                      (mesh_lib / "current").string() +
                          " is not a link into versions/: " + std::string(kHowToInstall));
  }
  if (::access(in.versions.c_str(), W_OK) != 0 || ::access(mesh_lib.c_str(), W_OK) != 0) {
    return make_error(Errc::io, "cannot write " + in.versions.string() +
                                    ": run mesh update as the user who installed mesh");
  }
  return in;
}

std::set<std::string> versions_in_use(const fs::path& versions) {
  std::set<std::string> out;
  std::error_code ec;
  fs::path canon = fs::weakly_canonical(versions, ec);
  if (ec) return out;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string pid = it->path().filename().string();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code rec;
    fs::path exe = fs::read_symlink(it->path() / "exe", rec);
    if (rec) continue;  // another user's process, or gone
    auto rel = exe.lexically_relative(canon);
    if (rel.empty() || *rel.begin() == "..") continue;
    out.insert(rel.begin()->string());
  }
  return out;
}

Status clear_version_dir(const Install& install, const std::string& version) {
  if (!valid_version_dir(version)) return make_error(Errc::invalid, "bad version " + version);
  fs::path dir = install.version_dir(version);
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir, ec))) return {};
  if (version == install.running || install.current == version ||
      versions_in_use(install.versions).count(version)) {
    return make_error(Errc::io, dir.string() +
                                    " is in use; stop the daemons running from it "
                                    "first");
  }
  fs::remove_all(dir, ec);
  if (ec) return make_error(Errc::io, "cannot remove " + dir.string() + ": " + ec.message());
  return {};
}

}  // namespace mesh::updater
