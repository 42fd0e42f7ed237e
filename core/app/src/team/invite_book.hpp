// The inviter's invite secrets (<root>/invites.json): issuing tokens, burning a secret when a
// joiner proves it knows it, remembering who used it, and telling `mesh invite --wait` so.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "join_proof.hpp"
#include "mesh/base/result.hpp"
#include "mesh/gossip/token.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::app::team {

inline constexpr std::size_t kMaxOpenInvites = 256;
inline constexpr std::uint64_t kMaxInviteTtlSeconds = 7 * 24 * 3600;
inline constexpr std::size_t kMaxInviteWaiters = 64;

struct IssuedInvite {
  std::string token;
  std::uint64_t expires_at = 0;  // unix seconds
  std::vector<std::string> addresses;
  gossip::TokenSecret secret{};
};

// Who used an invite, recorded once the joiner was admitted.
struct InviteUse {
  std::string id;    // the joiner's "mesh:" id
  std::string name;  // the name it asked for
  std::string code;  // the 6-digit confirmation code
  std::uint64_t at_ms = 0;
};

struct InviteState {
  enum class Kind { open, used, expired, unknown };
  Kind kind = Kind::unknown;
  std::uint64_t expires_at = 0;
  std::optional<InviteUse> use;  // for a used invite whose admission completed
};

// Thread-safe. Each change is written through (atomic, durable) before it counts: a secret is
// known before its token is printed and burnt before the joiner is admitted, so a token works
// once, also across restarts. Entries are dropped once expired (used ones too: a replay is
// then refused by the token's own expiry).
class InviteBook {
 public:
  InviteBook(std::filesystem::path file, std::function<std::uint64_t()> now_ms);

  // A signed token for `addresses` valid for ttl_seconds (1 s .. 7 d). Errc::invalid for a bad
  // ttl, Errc::limit with kMaxOpenInvites open, Errc::io if the file cannot be written.
  Result<IssuedInvite> issue(const identity::Identity& self, std::string_view self_name,
                             std::vector<std::string> addresses, std::uint64_t ttl_seconds);

  // Finds the open invite whose secret gives `mac` for (self, joiner) and burns it. Errc::denied
  // with the reason (unknown, expired, already used) otherwise.
  Result<gossip::TokenSecret> burn(const identity::PublicKey& self,
                                   const identity::PublicKey& joiner, const JoinMac& mac);

  // Records who used a burnt invite and hands it to the invite's waiters.
  void record_use(const gossip::TokenSecret& secret, const InviteUse& use);

  InviteState state(const gossip::TokenSecret& secret) const;

  // Calls `done` once, from the thread that records the use, when the invite is used (at once
  // if it already was). Returns 0 when kMaxInviteWaiters are waiting already.
  using WaitId = std::uint64_t;
  WaitId wait(const gossip::TokenSecret& secret, std::function<void(const InviteUse&)> done);
  // Forgets a waiter (its invite expired or its client left); `done` is then never called.
  void cancel(WaitId id);

 private:
  struct Waiter {
    std::string secret_hex;
    std::function<void(const InviteUse&)> done;
  };
  std::uint64_t now_s() const { return now_ms_() / 1000; }
  InviteState state_locked(const std::string& secret_hex) const;

  std::filesystem::path file_;
  std::function<std::uint64_t()> now_ms_;
  mutable std::mutex mu_;  // the file and waiters_
  std::map<WaitId, Waiter> waiters_;
  WaitId next_wait_ = 1;
};

}  // namespace mesh::app::team
