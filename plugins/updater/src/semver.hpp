// Semantic versions (semver.org 2.0.0): strict parsing and precedence, for release tags, asset
// names and anti-rollback. Build metadata ("+...") is kept but never affects ordering.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors.hpp"

namespace mesh::updater {

// Longest version accepted anywhere (the SDK's manifest limit).
constexpr std::size_t kMaxVersionLength = 64;

struct SemVer {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::vector<std::string> pre;  // pre-release identifiers: "rc", "1" for 1.0.0-rc.1
  std::string build;             // build metadata without the '+', may be empty

  bool prerelease() const { return !pre.empty(); }
  std::string str() const;  // canonical text, e.g. "1.2.3-rc.1+abc"
};

// "1.2.3", "1.2.3-rc.1", "1.2.3+build.5": no leading 'v', no leading zeros in numbers,
// numbers within 64 bits, at most kMaxVersionLength characters.
Result<SemVer> parse_semver(std::string_view text);

// A release tag: "v1.2.3" (GitHub's convention) or a bare "1.2.3".
Result<SemVer> parse_tag(std::string_view tag);

// Precedence per semver §11: <0, 0, >0. Build metadata is ignored, so 1.0.0+a == 1.0.0+b.
int compare(const SemVer& a, const SemVer& b);

inline bool operator<(const SemVer& a, const SemVer& b) {
  return compare(a, b) < 0;
}
inline bool same_precedence(const SemVer& a, const SemVer& b) {
  return compare(a, b) == 0;
}

}  // namespace mesh::updater
