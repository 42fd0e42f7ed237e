// Anti-rollback: the highest version ever installed on this node is kept in a small state
// file, and an older release is refused unless forced, so that an old signed release with a
// known hole cannot be pushed back onto the node by a mirror, a peer or a stale cache.
#pragma once

#include <filesystem>
#include <optional>

#include "errors.hpp"
#include "semver.hpp"

namespace mesh::updater {

constexpr std::size_t kMaxRollbackStateBytes = 4096;

// The persisted highest version, or nullopt when the file does not exist yet (a fresh node).
// A file that exists but cannot be read or parsed is an error, never "no state": failing open
// would turn a corrupted file into a downgrade.
Result<std::optional<SemVer>> load_highest_installed(const std::filesystem::path& state_file);

// Raises the persisted version to `installed` if it is higher; never lowers it (a forced
// downgrade keeps the old mark). Durable: written aside, fsync'd, renamed.
Status record_installed(const std::filesystem::path& state_file, const SemVer& installed);

// Refuses `candidate` if it is older than the highest of `highest` and `running` (the running
// version counts as installed even before the first update), unless `force`.
Status check_not_rollback(const SemVer& candidate, const std::optional<SemVer>& highest,
                          const SemVer& running, bool force);

// What `mesh update` should do with a verified candidate.
enum class Decision {
  up_to_date,  // same version as the running one
  upgrade,     // newer than the running one and not a rollback
  downgrade,   // older than the running one, allowed by --force
};
Result<Decision> decide(const SemVer& candidate, const SemVer& running,
                        const std::optional<SemVer>& highest, bool force);

}  // namespace mesh::updater
