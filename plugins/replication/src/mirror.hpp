// The bare mirrors under <root>/repos and every libgit2 operation on them: listing and moving
// refs (compare-and-swap), the commit graph, fetching from members, HEAD, and housekeeping
// (leftovers of killed processes, the trash of removed repos). Callers serialise work per
// repo (RepoLocks); which value a ref should have is the registry's business (registry.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mesh::repl {

inline const std::string kZeroOid(40, '0');

// A ref replicated between nodes: refs/heads/* and refs/tags/* with safe names.
bool replicated_ref(std::string_view name);

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

  // Heads and tags, name -> oid.
  std::map<std::string, std::string> refs(const std::string& repo,
                                          std::string* err = nullptr) const;
  // Heads, tags and every refs/mesh/ ref (parked tips, legacy parks), name -> oid.
  std::map<std::string, std::string> all_refs(const std::string& repo,
                                              std::string* err = nullptr) const;
  // A short stable digest (FNV-1a 64, hex) of the heads, tags and parked tips in `refs`; ""
  // for none. Equal on two nodes exactly when they agree on the repo.
  static std::string digest(const std::map<std::string, std::string>& refs);

  bool has_object(const std::string& repo, const std::string& oid) const;
  // Whether commit `a` equals or descends from commit `b` (false for anything else).
  bool contains(const std::string& repo, const std::string& a, const std::string& b) const;

  // The object graph of one mirror, opened once for many questions (a plan asks a few per
  // value of every ref). Not thread-safe; use it on one thread and drop it soon.
  class Graph {
   public:
    Graph(const Mirrors& mirrors, const std::string& repo);
    ~Graph();
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;
    bool has(const std::string& oid) const;
    bool contains(const std::string& a, const std::string& b) const;

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
  };

  // Fetches the heads, tags and parked tips of `url` (objects only; the refs land under
  // refs/mesh/incoming/ and are removed again). `advertised` receives what the remote
  // advertised of those. Returns an error message, empty on success. https URLs go through
  // the host's libgit2 TLS stream (any member); `peer_id` ("mesh:...", empty: any) is the
  // member the server's certificate must belong to.
  // `cancel` (optional) stops the fetch at libgit2's next callback once it is set.
  std::string fetch(const std::string& repo, const std::string& url, const std::string& peer_id,
                    std::map<std::string, std::string>* advertised = nullptr,
                    const std::atomic<bool>* cancel = nullptr) const;

  // Compare-and-swap: sets `ref` to `to` (kZeroOid deletes) only if it still has `from`
  // (kZeroOid: absent). Returns "" on success; *raced is set when the ref had another value.
  std::string set_ref(const std::string& repo, const std::string& ref, const std::string& from,
                      const std::string& to, const std::string& why, bool* raced) const;

  // Points HEAD at an existing branch when it names a missing one: main, then master, then the
  // first branch. Clones then check out a branch, and every node picks the same one.
  void fix_head(const std::string& repo) const;

  // Removes what a killed receive-pack, index-pack or fetch left in the mirror: quarantine
  // directories (objects/incoming-*, objects/tmp_objdir-*), temporary packs and indexes
  // (objects/pack/tmp_*, objects/pack/pack_git2_*), stale lock files of refs, HEAD,
  // packed-refs and config, and fetches' staging refs (refs/mesh/incoming/). Only while
  // nothing runs in it (at start). Returns what it removed.
  std::vector<std::string> clean_leftovers(const std::string& repo) const;

  // remove-repo: the mirror moves to <repos_dir>/.trash/<repo>.git.<ms>; restore-repo takes
  // the newest copy back. Errors as messages, "" on success.
  std::string trash(const std::string& repo, std::int64_t now_ms) const;
  std::string restore_from_trash(const std::string& repo) const;
  bool in_trash(const std::string& repo) const;
  // Deletes trashed copies older than life_ms. Returns how many.
  std::size_t expire_trash(std::int64_t now_ms, std::int64_t life_ms) const;

 private:
  std::filesystem::path trash_dir() const { return dir_ / ".trash"; }
  std::filesystem::path dir_;
};

}  // namespace mesh::repl
