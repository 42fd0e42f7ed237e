// "fixes #12" in commit messages (GitHub's closing keywords: close, closes, closed, fix, fixes,
// fixed, resolve, resolves, resolved; any case; an optional ':' after the keyword). The glue
// calls it for the commits a push brings to a repo's default branch, resolves each ref with
// resolve() and publishes a close naming the commit.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mesh::issues {

struct ClosingRef {
  std::string keyword;  // as written, e.g. "Fixes"
  std::string repo;     // "other-repo#3" names another repo; empty: the pushed one
  std::string ref;      // "#12" or "#12-3fa9", ready for resolve()
};

// Only the first kMaxMessage bytes are read, and at most kMaxRefs refs are returned (in the
// order they appear, duplicates removed).
inline constexpr std::size_t kMaxMessage = 64 * 1024;
inline constexpr std::size_t kMaxRefs = 32;
std::vector<ClosingRef> closing_refs(std::string_view message);

}  // namespace mesh::issues
