// The install layout `mesh update` manages (docs/updates.md), as install.sh writes it:
//
//   <prefix>/lib/mesh/versions/<version>/   one release tree (bin/mesh, its plugins, ...)
//   <prefix>/lib/mesh/current  -> versions/<version>
//   <prefix>/lib/mesh/previous -> versions/<older>     (after the first update)
//   <prefix>/bin/mesh          -> ../lib/mesh/current/bin/mesh
//
// The plugin only reads it and adds version trees; switching the links is the watchdog's job
// (cli/update_commands.cpp), which runs the same rules.
#pragma once

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "errors.hpp"

namespace mesh::updater {

struct Install {
  std::filesystem::path prefix;         // <prefix>
  std::filesystem::path versions;       // <prefix>/lib/mesh/versions
  std::string running;                  // the directory name under versions/ the daemon runs from
  std::filesystem::path exe;            // versions/<running>/bin/mesh (resolved)
  std::optional<std::string> current;   // what lib/mesh/current points at, if it is a link
  std::optional<std::string> previous;  // what lib/mesh/previous points at, if it is a link

  std::filesystem::path version_dir(const std::string& v) const { return versions / v; }
};

// Where the running binary `exe` (the resolved /proc/self/exe) sits in that layout. Refused,
// with what to do: a build tree, a plain `cmake --install` tree, a binary owned by dpkg
// (`dpkg_list` is the package's file list, /var/lib/dpkg/info/mesh.list), a version tree that
// was deleted under the running daemon, an unwritable versions/ directory.
Result<Install> locate_install(
    const std::filesystem::path& exe,
    const std::filesystem::path& dpkg_list = "/var/lib/dpkg/info/mesh.list");

// What a version directory name may be: a semantic version (no '/', no leading '.').
bool valid_version_dir(std::string_view name);

// The link target under versions/ ("versions/1.2.0" -> "1.2.0"), or nullopt for anything else
// (no link, an absolute or foreign target).
std::optional<std::string> version_link(const std::filesystem::path& link);

// Version trees some process of this user runs from right now (/proc/<pid>/exe under
// versions/): never removed or replaced while in use.
std::set<std::string> versions_in_use(const std::filesystem::path& versions);

// Makes room for a fresh extraction of `version`: a leftover tree (a rolled-back attempt) is
// removed, unless a process runs from it.
Status clear_version_dir(const Install& install, const std::string& version);

}  // namespace mesh::updater
