// Deleted refs, remembered durably so that anti-entropy does not bring them back from a
// member that has not applied the deletion yet (it was offline, or this node restarted).
// A tombstone holds the tip that was deleted; the caller skips an advertised value that is
// that tip or one of its ancestors, and accepts anything else (new work under the same name).
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mesh::repl {

struct TombstoneOptions {
  std::filesystem::path file;                             // tombstones.json
  std::chrono::hours life = std::chrono::hours(24 * 30);  // then a deletion is old news
  std::size_t max_entries = 10'000;                       // the oldest go first beyond this
};

class Tombstones {
 public:
  explicit Tombstones(TombstoneOptions options);

  // Reads the file. A missing file is an empty set; an unreadable or malformed one leaves the
  // set empty and says why in *err (the caller logs it; anti-entropy then may resurrect).
  void load(std::string* err);
  // One batch of ref changes in `repo`: refs deleted at a tip (ref, tip) get a tombstone, refs
  // that got a new value lose theirs. Persists once, if anything changed (a push that prunes
  // hundreds of branches writes the file once, not once per branch). false + *err if the
  // write failed (memory is updated regardless).
  bool record(const std::string& repo,
              const std::vector<std::pair<std::string, std::string>>& deleted,
              const std::vector<std::string>& updated, std::string* err);
  bool add(const std::string& repo, const std::string& ref, const std::string& oid,
           std::string* err) {
    return record(repo, {{ref, oid}}, {}, err);
  }
  bool clear(const std::string& repo, const std::string& ref, std::string* err) {
    return record(repo, {}, {ref}, err);
  }
  // The deleted tip of repo/ref, while its tombstone lives.
  std::optional<std::string> find(const std::string& repo, const std::string& ref);
  std::size_t size();

 private:
  struct Entry {
    std::string oid;
    std::int64_t at_ms = 0;  // wall clock: tombstones outlive restarts
  };
  void expire_locked(std::int64_t now_ms);
  bool save_locked(std::string* err);

  TombstoneOptions options_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

}  // namespace mesh::repl
