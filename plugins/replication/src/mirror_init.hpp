// The one way a mirror comes into being, shared by a first push (GitService) and a first refs
// event or sync (Mirrors), so every mirror has the same settings.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace mesh::repl {

// Mirrors are built as <repos_dir>/.mesh-init-<pid>-<n>-<name> and renamed into place; a
// directory with this prefix from another pid is a crashed creation (GitService removes those).
inline constexpr std::string_view kMirrorTmpPrefix = ".mesh-init-";

enum class MirrorInit { existed, created, failed };

// Creates the bare mirror `dir` (<repos_dir>/<name>.git) unless it exists: HEAD on main,
// receive/transfer/fetch fsckObjects, a reflog for every ref. Race-free: a concurrent creator
// wins harmlessly (existed), and a failure leaves nothing behind (*err says why).
MirrorInit init_mirror(const std::filesystem::path& dir, std::string* err);

// The same mirror, built aside (at a fresh .mesh-init- path next to `dir`) and not renamed:
// a first push runs there, and the mirror appears only if the push changed a ref. Returns
// the path, empty with *err on failure (nothing left behind).
std::filesystem::path build_mirror_aside(const std::filesystem::path& dir, std::string* err);
// Renames a mirror built aside into place; false (and *err) if `dir` appeared meanwhile or the
// rename failed. The caller removes `aside` then.
bool place_mirror(const std::filesystem::path& aside, const std::filesystem::path& dir,
                  std::string* err);

}  // namespace mesh::repl
