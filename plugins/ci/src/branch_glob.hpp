// on.push.branches: which pushed branches start a run. Patterns match the short branch name
// ("main", "release/1.2"); tags are never branches.
//
//   *    any characters except '/'        ?    one character except '/'
//   **   any characters, '/' included     **/  also matches nothing: "a/**/b" matches "a/b"
//   !p   excludes what p matches
//
// Order matters as in GitHub Actions: the last pattern that matches a branch decides, so
// ["release/**", "!release/old-*", "release/old-keep"] takes release/old-keep back in.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace mesh::ci {

// True if glob (without a leading '!') matches the whole name.
bool glob_match(std::string_view glob, std::string_view name);

// Checks one pattern: 1..255 bytes, no control bytes or spaces, no "***", no character classes
// ('[', ']') or backslashes (git forbids those in branch names, so they could never match),
// '!' only in front and followed by a pattern.
Status check_branch_pattern(std::string_view pattern);

class BranchFilter {
 public:
  // Every branch (on.push without a branches list).
  BranchFilter() = default;
  // Validates each pattern; refuses a list with only exclusions (it would match nothing,
  // which is never what was meant). An empty list matches no branch.
  static Result<BranchFilter> make(std::vector<std::string> patterns);

  bool matches_branch(std::string_view branch) const;
  // A full ref: "refs/heads/<branch>" per the patterns; anything else (tags) never matches.
  bool matches_ref(std::string_view ref) const;

  bool all_branches() const { return all_; }
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  bool all_ = true;
  std::vector<std::string> patterns_;
};

}  // namespace mesh::ci
