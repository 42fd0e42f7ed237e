// <root>/joins.json: when each member joined and through whom, as this node saw it (it invited
// the member, or joined through the member's invite), for `mesh peers` and `mesh status`.
// Node-local display data, not gossiped: members learned by gossip have no entry.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace mesh::app::team {

inline constexpr std::size_t kMaxJoinRecords = 1024;

struct JoinRecord {
  std::uint64_t at_ms = 0;  // unix ms
  // "invite": this node invited the member; "join": this node joined through its invite.
  std::string via;
  std::string code;  // the confirmation code both sides were shown
};

// Thread-safe; read once, written through. Past kMaxJoinRecords the oldest entry is dropped.
class JoinLedger {
 public:
  explicit JoinLedger(std::filesystem::path file);
  void record(const std::string& member_id, const JoinRecord& rec);
  std::optional<JoinRecord> find(const std::string& member_id) const;

 private:
  std::filesystem::path file_;
  mutable std::mutex mu_;
  std::map<std::string, JoinRecord> records_;
};

}  // namespace mesh::app::team
