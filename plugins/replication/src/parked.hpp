// Where the rule keeps the tips that lost (docs/replication.md "Parked tips"): one name per
// (ref, tip), the same on every node, in a namespace clients are not shown.
//   refs/mesh/parked/<tip>/<ref without "refs/">      a tip that lost to the ref's winner
//   refs/mesh/deleted/<tip>/<ref without "refs/">     a deletion of <tip> overtaken by new
//                                                      work (a record only, never a ref)
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mesh::repl {

inline constexpr std::string_view kParkedPrefix = "refs/mesh/parked/";
inline constexpr std::string_view kDeletedPrefix = "refs/mesh/deleted/";
// The naming of an older version (per node, not the same everywhere): migrated at start.
inline constexpr std::string_view kLegacyParkedPrefix = "refs/mesh/diverged/";

// `ref` (refs/heads/... or refs/tags/...) parked at `tip` (40 hex).
std::string parked_name(std::string_view ref, std::string_view tip);
std::string deleted_name(std::string_view ref, std::string_view tip);

struct ParkedName {
  std::string ref, tip;
  bool deletion = false;
};
// Splits either form; nullopt for anything else (including an invalid ref or tip).
std::optional<ParkedName> parse_parked_name(std::string_view name);

// refs/mesh/diverged/<node key>/<ref>: the ref of a legacy park, or nullopt.
std::optional<std::string> legacy_parked_ref(std::string_view name);

}  // namespace mesh::repl
