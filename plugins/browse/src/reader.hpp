// Reading one bare mirror through libgit2 (docs/web.md, "Repo pages"). Every call is bounded
// (the counts and sizes in limits.hpp or the caller's), nothing throws: failures are Error
// values. A Repo belongs to one thread at a time; open one per request.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct git_repository;

namespace mesh::browse {

enum class Fail { none, not_found, invalid, limit, internal };

struct Error {
  Fail kind = Fail::none;
  std::string message;
  explicit operator bool() const { return kind != Fail::none; }
};

struct Person {
  std::string name, email;  // valid UTF-8
  std::int64_t time = 0;    // seconds since the epoch
  int offset_min = 0;
};

struct CommitInfo {
  std::string oid;      // 40 hex
  std::string summary;  // the first line, valid UTF-8
  std::string message;  // at most kMaxMessageBytes, valid UTF-8
  bool message_cut = false;
  Person author, committer;
  std::vector<std::string> parents;
};

struct RefTip {
  std::string name;  // short: "main", "v1.0"
  std::string oid;   // the commit it points at (a tag is peeled)
  std::string summary;
  std::int64_t time = 0;
};

struct RefList {
  std::vector<RefTip> refs;
  std::size_t total = 0;  // more than refs.size() when capped
};

// What a URL's {ref} names.
struct Resolved {
  enum class Kind { branch, tag, commit } kind = Kind::commit;
  std::string name;  // as given
  std::string oid;   // the commit
};

struct TreeEntry {
  enum class Kind { tree, blob, link, submodule } kind = Kind::blob;
  std::string name;  // as stored (raw bytes)
  std::string oid;
};

struct TreeListing {
  std::vector<TreeEntry> entries;  // directories first, then by name
  std::size_t total = 0;
};

struct BlobData {
  std::uint64_t size = 0;
  bool binary = false;
  bool too_large = false;  // data left empty: the size is over the cap
  std::string data;
};

// A path inside a commit: a directory, a file, a symlink or a submodule.
struct Found {
  TreeEntry::Kind kind = TreeEntry::Kind::tree;
  std::string oid;
};

struct DiffFile {
  std::string path, old_path;  // raw bytes; old_path set for renames and copies
  char status = 'M';           // A, D, M, R, C, T
  std::size_t additions = 0, deletions = 0;
  bool binary = false;
};

struct DiffStat {
  std::vector<DiffFile> files;  // at most the cap
  std::size_t total_files = 0;
  std::size_t additions = 0, deletions = 0;  // over the files listed
  std::string against;                       // the parent's oid, empty for a root commit
};

class Repo {
 public:
  // libgit2 must be initialised (LibGit2 below) on the process.
  static std::unique_ptr<Repo> open(const std::filesystem::path& repos_dir, std::string_view name,
                                    Error* err);
  ~Repo();
  Repo(const Repo&) = delete;
  Repo& operator=(const Repo&) = delete;

  RefList branches(std::size_t cap, Error* err) const;
  RefList tags(std::size_t cap, Error* err) const;
  // HEAD's branch if it exists, else main, master, the first branch; empty: no branches.
  std::string default_branch() const;
  // A branch, then a tag, then (4..40 hex) a commit id; not_found or invalid otherwise. Never
  // a revision expression (no "~", "^", "@{", ":/").
  std::optional<Resolved> resolve(std::string_view ref, Error* err) const;

  // Up to n commits from `from`, newest first (committer time); *more when there are older.
  std::vector<CommitInfo> log(const std::string& from, std::size_t n, bool* more, Error* err) const;
  std::optional<CommitInfo> commit(const std::string& oid, Error* err) const;
  // A commit id from 4..40 hex digits (unique prefix), or not_found / invalid (ambiguous).
  std::optional<std::string> commit_id(std::string_view hex, Error* err) const;

  // What `path` (segments) names in the commit's tree.
  std::optional<Found> find(const std::string& commit, const std::vector<std::string>& path,
                            Error* err) const;
  TreeListing tree(const std::string& tree_oid, std::size_t cap, Error* err) const;
  // The blob's bytes when size <= cap (else too_large and no data); binary by git's rule (a NUL
  // in the first 8000 bytes).
  std::optional<BlobData> blob(const std::string& oid, std::uint64_t cap, Error* err) const;
  // A symlink's target.
  std::optional<std::string> link_target(const std::string& oid, Error* err) const;

  // Against the first parent (an empty tree for a root commit), renames found, at most
  // max_files files listed.
  std::optional<DiffStat> diffstat(const std::string& commit, std::size_t max_files,
                                   Error* err) const;

  // Commits per day (UTC) over the `days` days ending today (`now` seconds), walking at most
  // kMaxActivityCommits from `from`; oldest day first.
  std::vector<std::uint32_t> activity(const std::string& from, std::int64_t now, std::size_t days,
                                      Error* err) const;

  const std::string& name() const { return name_; }

 private:
  Repo(git_repository* repo, std::string name) : repo_(repo), name_(std::move(name)) {}
  RefList list_refs(const char* glob, std::size_t prefix, std::size_t cap, Error* err) const;

  git_repository* repo_;
  std::string name_;
};

// git_libgit2_init / shutdown for the lifetime of the object (counted by libgit2).
class LibGit2 {
 public:
  LibGit2();
  ~LibGit2();
  LibGit2(const LibGit2&) = delete;
  LibGit2& operator=(const LibGit2&) = delete;
};

// The repo names in repos_dir (directories <name>.git with a valid name), sorted, at most cap.
std::vector<std::string> list_repos(const std::filesystem::path& repos_dir, std::size_t cap,
                                    std::size_t* total);

}  // namespace mesh::browse
