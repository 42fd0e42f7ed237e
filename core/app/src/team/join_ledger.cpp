#include "join_ledger.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "mesh/base/files.hpp"

namespace mesh::app::team {
namespace json = boost::json;

namespace {
constexpr std::size_t kMaxStateFile = 1 << 20;
}

JoinLedger::JoinLedger(std::filesystem::path file) : file_(std::move(file)) {
  auto text = read_file(file_, kMaxStateFile);
  if (!text) return;
  boost::system::error_code ec;
  auto v = json::parse(*text, ec);
  if (ec || !v.is_object()) return;
  for (const auto& [id, entry] : v.as_object()) {
    if (!entry.is_object() || records_.size() >= kMaxJoinRecords) continue;
    const auto& o = entry.as_object();
    JoinRecord r;
    if (const auto* at = o.if_contains("at_ms"); at && at->is_int64() && at->as_int64() > 0) {
      r.at_ms = static_cast<std::uint64_t>(at->as_int64());
    }
    if (const auto* via = o.if_contains("via"); via && via->is_string()) r.via = via->as_string();
    if (const auto* code = o.if_contains("code"); code && code->is_string()) {
      r.code = code->as_string();
    }
    records_[std::string(id)] = std::move(r);
  }
}

void JoinLedger::record(const std::string& member_id, const JoinRecord& rec) {
  std::lock_guard lock(mu_);
  records_[member_id] = rec;
  while (records_.size() > kMaxJoinRecords) {
    auto oldest = std::min_element(
        records_.begin(), records_.end(),
        [](const auto& a, const auto& b) { return a.second.at_ms < b.second.at_ms; });
    records_.erase(oldest);
  }
  json::object out;
  for (const auto& [id, r] : records_) {
    out[id] = json::object{
        {"at_ms", static_cast<std::int64_t>(r.at_ms)}, {"via", r.via}, {"code", r.code}};
  }
  // Display data only: a failed write costs the "joined … ago" line, never the join.
  if (auto st = write_file_atomic(file_, json::serialize(out)); !st) {
    spdlog::warn("team: cannot record the join in {}: {}", file_.string(), st.error().message);
  }
}

std::optional<JoinRecord> JoinLedger::find(const std::string& member_id) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(member_id);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

}  // namespace mesh::app::team
