// The join request of the invite handshake (docs/protocol.md "Join handshake"): what the joiner
// sends to the inviter, how it proves it knows the invite secret, and how the inviter checks
// it. Pure functions: no I/O, no state.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/gossip/token.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::app::team {

inline constexpr std::size_t kMaxJoinBody = 16 * 1024;
using JoinMac = std::array<std::uint8_t, 32>;

// Proof that the joiner knows the invite secret, bound to both keys:
// BLAKE2b-256 keyed with the secret over "mesh-join-v1\0" || inviter || joiner.
JoinMac join_mac(const gossip::TokenSecret& secret, const identity::PublicKey& inviter,
                 const identity::PublicKey& joiner);

struct JoinRequest {
  identity::PublicKey joiner;
  std::string name;
  std::vector<std::string> addresses;
  JoinMac mac{};
  identity::Signature sig{};
};

// The signed JSON body a joiner POSTs to /mesh/join for `token`.
std::string make_join_body(const identity::Identity& joiner, const gossip::Token& token,
                           std::string_view name, const std::vector<std::string>& addresses);

// Parses and checks a join body sent to `inviter`: structure, limits, name and address
// grammar, and the joiner's signature. Errc::invalid (malformed) or Errc::crypto (signature);
// the message is safe to send back. The MAC is checked by whoever holds the secrets.
Result<JoinRequest> parse_join_body(std::string_view body, const identity::PublicKey& inviter);

}  // namespace mesh::app::team
