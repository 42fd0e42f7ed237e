// Read-only access to this node's mirrors (<root>/repos/<repo>.git) with libgit2, plus the one
// write the ci plugin makes: a fresh worktree of a commit for a run. Every libgit2 call runs on
// a thread of this class's own, joined before the call returns (libgit2 keeps per-thread state
// that a host thread would leak when the plugin goes away).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "result.hpp"

namespace mesh::ci {

struct ResolvedRef {
  std::string ref;  // "refs/heads/main", "refs/tags/v1"; empty when a sha was given
  std::string sha;  // the commit
};

class GitRepos {
 public:
  explicit GitRepos(std::filesystem::path repos_dir);
  ~GitRepos();
  GitRepos(const GitRepos&) = delete;
  GitRepos& operator=(const GitRepos&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path mirror(const std::string& repo) const;
  bool exists(const std::string& repo) const;
  // The repos with a mirror here, sorted.
  std::vector<std::string> repos() const;

  // The file at `path` in commit `sha`: nullopt if the commit has no such file; an error if the
  // commit is missing, the entry is not a regular file or it is larger than max_bytes.
  Result<std::optional<std::string>> read_file(const std::string& repo, const std::string& sha,
                                               const std::string& path, std::size_t max_bytes);
  bool has_commit(const std::string& repo, const std::string& sha);
  // A branch ("main"), a full ref ("refs/heads/main", "refs/tags/v1"), a tag name, or a full
  // 40-digit sha, to the commit it names.
  Result<ResolvedRef> resolve(const std::string& repo, const std::string& what);
  // The mirror's default branch (what HEAD points at), e.g. "main".
  Result<std::string> default_branch(const std::string& repo);
  // The commit of refs/heads/<branch>, or nullopt.
  std::optional<std::string> branch_tip(const std::string& repo, const std::string& branch);

  // A new git repository at `dir` (which must not exist) whose objects come from the mirror
  // (objects/info/alternates, as `git clone --shared` does), with the commit checked out on a
  // detached HEAD.
  Status checkout(const std::string& repo, const std::string& sha,
                  const std::filesystem::path& dir);

 private:
  std::filesystem::path dir_;
};

}  // namespace mesh::ci
