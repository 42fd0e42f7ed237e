#include "member_quota.hpp"

#include <algorithm>
#include <boost/json.hpp>

namespace mesh::repl {
namespace {

constexpr double kHourMs = 3'600'000.0;
constexpr std::int64_t kLogIntervalMs = 60'000;
constexpr std::size_t kMaxMembers = 10'000;  // the gossip layer's feed limit

}  // namespace

std::uint64_t objects_bytes(const std::filesystem::path& repo_dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(repo_dir / "objects", ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      auto n = it->file_size(size_ec);
      if (!size_ec) total += n;
    }
  }
  return total;
}

void MemberQuota::Bucket::refill(double capacity, std::int64_t now_ms) {
  if (at_ms < 0) {
    tokens = capacity;
  } else if (now_ms > at_ms) {
    tokens += static_cast<double>(now_ms - at_ms) * capacity / kHourMs;
  }
  tokens = std::min(tokens, capacity);  // a lowered limit applies at once
  at_ms = std::max(at_ms, now_ms);
}

void MemberQuota::set(const QuotaLimits& limits) {
  std::lock_guard lock(mu_);
  limits_ = limits;
}

void MemberQuota::refused_locked(Member& m, const std::string& member, const std::string& kind,
                                 std::int64_t now_ms, const std::string& what) {
  auto& logged = m.logged_ms[kind];
  if (logged != 0 && now_ms < logged + kLogIntervalMs) return;
  logged = std::max<std::int64_t>(now_ms, 1);
  if (warn_) warn_("member " + member + " " + what);
}

bool MemberQuota::new_repo(const std::string& member, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (!members_.count(member) && members_.size() >= kMaxMembers) return false;
  Member& m = members_[member];
  auto cap = static_cast<double>(limits_.new_repos_per_hour);
  m.repos.refill(cap, now_ms);
  if (m.repos.tokens >= 1) {
    m.repos.tokens -= 1;
    return true;
  }
  ++m.repos_refused;
  refused_locked(m, member, "repos", now_ms,
                 "is over [plugins.replication] max_new_repos_per_hour = " +
                     std::to_string(limits_.new_repos_per_hour) + "; its new repos wait (" +
                     std::to_string(m.repos_refused) + " so far)");
  return false;
}

bool MemberQuota::may_fetch(const std::string& member, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = members_.find(member);
  if (it == members_.end()) return true;  // nothing charged yet
  Member& m = it->second;
  m.bytes.refill(static_cast<double>(limits_.fetch_bytes_per_hour), now_ms);
  if (m.bytes.tokens > 0) return true;
  ++m.fetches_deferred;
  refused_locked(m, member, "bytes", now_ms,
                 "is over [plugins.replication] max_fetch_bytes_per_hour = " +
                     std::to_string(limits_.fetch_bytes_per_hour) +
                     "; fetches for its pushes wait (" + std::to_string(m.fetches_deferred) +
                     " so far)");
  return false;
}

void MemberQuota::fetched(const std::string& member, std::uint64_t bytes, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (!members_.count(member) && members_.size() >= kMaxMembers) return;
  Member& m = members_[member];
  m.bytes.refill(static_cast<double>(limits_.fetch_bytes_per_hour), now_ms);
  m.bytes.tokens -= static_cast<double>(bytes);
}

std::string MemberQuota::json() const {
  std::lock_guard lock(mu_);
  boost::json::object out;
  for (const auto& [id, m] : members_) {
    if (m.repos_refused == 0 && m.fetches_deferred == 0) continue;
    out[id] = boost::json::object{{"repos_refused", m.repos_refused},
                                  {"fetches_deferred", m.fetches_deferred}};
  }
  return boost::json::serialize(out);
}

}  // namespace mesh::repl
