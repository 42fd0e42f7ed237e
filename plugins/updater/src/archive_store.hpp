// The verified archives a node keeps (<data>/archives/): what it serves to members for
// `mesh update --from`, each with its .minisig and a .sha256 sidecar. Only files that were
// verified against the release key are ever put here, and members verify them again anyway.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "errors.hpp"
#include "semver.hpp"

namespace mesh::updater {

struct HeldArchive {
  SemVer version;
  std::string name;  // mesh-<version>-linux-<arch>.tar.gz
  std::uint64_t size = 0;
  std::string sha256_hex;  // may be empty (no sidecar)
};

class ArchiveStore {
 public:
  explicit ArchiveStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::filesystem::path& dir() const { return dir_; }

  // The complete entries (archive + signature) for this platform, newest first.
  std::vector<HeldArchive> list() const;
  // A file a member may ask for: exactly one of the listed archives or its .minisig.
  std::optional<std::filesystem::path> servable(std::string_view file_name) const;

  // Moves a verified archive and its signature text in (replacing an older copy).
  Status put(const std::filesystem::path& archive, const std::string& name,
             const std::string& signature, const std::string& sha256_hex);
  // Keeps the `keep` newest and `also` (the running version), removes the rest.
  void prune(std::size_t keep, const std::optional<SemVer>& also);

 private:
  std::filesystem::path dir_;
};

}  // namespace mesh::updater
