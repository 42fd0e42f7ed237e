// The bare mirrors under <root>/repos and the one rule that moves their refs. All libgit2 use
// for reading refs, fetching and applying lives here; callers serialise work per repo.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mesh::repl {

inline const std::string kZeroOid(40, '0');

struct RefChange {
  std::string ref;  // refs/heads/... or refs/tags/...
  std::string old_oid;
  std::string new_oid;  // kZeroOid for a deletion
};

struct Divergence {
  std::string ref;        // the ref that diverged, e.g. refs/heads/main
  std::string node;       // the other node's key (base32, without "mesh:")
  std::string oid;        // the other node's tip, parked here
  std::string parked_as;  // refs/mesh/diverged/<node>/<ref>
};

enum class Applied {
  unchanged,  // already at the new value (or a deletion of a ref we lack)
  updated,    // moved (fast-forward, or `old` matched), created or deleted
  diverged,   // the tip was parked; our ref stays
  kept,       // a deletion we could not apply (our ref moved since): nothing lost, ref kept
  missing,    // the objects for `new` are not here (fetch first)
};

const char* to_string(Applied a);

class Mirrors {
 public:
  // Calls git_libgit2_init(); the matching shutdown happens in the destructor.
  explicit Mirrors(std::filesystem::path repos_dir);
  ~Mirrors();
  Mirrors(const Mirrors&) = delete;
  Mirrors& operator=(const Mirrors&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path path_of(const std::string& repo) const;

  // Names (valid ones only) of the mirrors on disk, sorted.
  std::vector<std::string> list() const;
  bool exists(const std::string& repo) const;
  // Creates an empty bare mirror if missing (race-free: a concurrent creator wins harmlessly).
  // Returns an error message, empty on success.
  std::string ensure(const std::string& repo) const;

  // heads and tags, name -> oid (hex). include_parked adds refs/mesh/diverged/*.
  std::map<std::string, std::string> refs(const std::string& repo,
                                          std::string* err = nullptr) const;
  // A short stable digest of the heads and tags (FNV-1a 64, hex), "" for no refs.
  static std::string digest(const std::map<std::string, std::string>& refs);

  bool has_object(const std::string& repo, const std::string& oid) const;
  // Whether commit `a` equals or descends from commit `b`.
  bool contains(const std::string& repo, const std::string& a, const std::string& b) const;

  // Fetches heads and tags from `url` (objects only; the refs land under refs/mesh/incoming/
  // and are removed again). `advertised` receives the remote's heads and tags. Returns an error
  // message, empty on success. https URLs go through the registered TLS stream (tls_stream.hpp).
  std::string fetch(const std::string& repo, const std::string& url,
                    std::map<std::string, std::string>* advertised = nullptr) const;

  // The rule (ARCHITECTURE.md §5): move `ref` to `new` if it is a fast-forward or if `old` is
  // our current value; otherwise park `new` at refs/mesh/diverged/<node>/<ref>. The move is a
  // compare-and-swap against the value the decision was based on, so a concurrent push is never
  // overwritten. Parks that the new value contains are cleared.
  Applied apply(const std::string& repo, const RefChange& change, const std::string& node,
                std::string* err = nullptr) const;
  // Anti-entropy: the peer `node` has `oid` at `ref` (no `old` known). Fast-forwards or
  // creates; parks a tip that neither contains nor is contained by ours.
  Applied reconcile(const std::string& repo, const std::string& ref, const std::string& oid,
                    const std::string& node, std::string* err = nullptr) const;

  // Removes parks of `ref` whose tip the ref's current value contains (after a merge was
  // pushed). Returns how many were cleared.
  int clear_resolved(const std::string& repo, const std::string& ref) const;
  // Points HEAD at an existing branch when it names a missing one (a new mirror's HEAD names
  // whatever `git init` chose): main, then master, then the first branch. Clones then check
  // out a branch, and every node picks the same one for the same refs.
  void fix_head(const std::string& repo) const;
  std::vector<Divergence> divergences(const std::string& repo) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace mesh::repl
