// One mutex per repo name, made on demand and dropped when nobody holds or waits for it.
// Shared by the smart HTTP service (a receive-pack and the bookkeeping around it) and the
// replicator (moving refs, creating, removing and restoring mirrors), so that neither ever
// sees the other's half-done work.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace mesh::repl {

class RepoLocks {
 public:
  class Guard {
   public:
    Guard(RepoLocks& locks, std::string name);
    ~Guard() { release(); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    void release();

   private:
    RepoLocks& locks_;
    std::string name_;
    std::shared_ptr<std::mutex> mu_;
    bool locked_ = false;
  };

  // Blocks until `repo` is ours.
  Guard lock(const std::string& repo) { return Guard(*this, repo); }

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<std::shared_ptr<std::mutex>, unsigned>> map_;
};

}  // namespace mesh::repl
