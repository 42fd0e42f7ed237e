// What one member may make this node's replication do per hour: repos created here because of
// its refs events, and bytes fetched for its pushes ([plugins.replication] max_new_repos_per_hour
// and max_fetch_bytes_per_hour; docs/replication.md "Per-member limits"). Token buckets that
// refill over an hour, a log line per member and kind at most once a minute, counters for
// `mesh repos --json`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace mesh::repl {

// Bytes under a repo's objects/ (what a fetch adds to), for charging a fetch by its growth.
std::uint64_t objects_bytes(const std::filesystem::path& repo_dir);

struct QuotaLimits {
  std::uint64_t new_repos_per_hour = 100;
  std::uint64_t fetch_bytes_per_hour = std::uint64_t{16} << 30;
};

class MemberQuota {
 public:
  using Warn = std::function<void(const std::string&)>;
  MemberQuota(QuotaLimits limits, Warn warn) : limits_(limits), warn_(std::move(warn)) {}

  void set(const QuotaLimits& limits);
  // A repo this node has never had, first named by `member`: true (and counted) if its hourly
  // budget allows another; else the event waits (the caller asks for it again later).
  bool new_repo(const std::string& member, std::int64_t now_ms);
  // True while `member`'s fetch budget is not spent; else the fetch waits.
  bool may_fetch(const std::string& member, std::int64_t now_ms);
  // Bytes a fetch for `member`'s push brought (charged after the fact: a fetch's size is known
  // only once it is done, so the last fetch may overshoot the budget by its own size).
  void fetched(const std::string& member, std::uint64_t bytes, std::int64_t now_ms);
  // {"<member id>":{"repos_refused":n,"fetches_deferred":n}} for members that hit a limit.
  std::string json() const;

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t at_ms = -1;  // < 0: not started (starts full)
    void refill(double capacity, std::int64_t now_ms);
  };
  struct Member {
    Bucket repos, bytes;
    std::uint64_t repos_refused = 0, fetches_deferred = 0;
    std::map<std::string, std::int64_t> logged_ms;
  };
  void refused_locked(Member& m, const std::string& member, const std::string& kind,
                      std::int64_t now_ms, const std::string& what);

  mutable std::mutex mu_;
  QuotaLimits limits_;
  Warn warn_;
  std::map<std::string, Member> members_;
};

}  // namespace mesh::repl
