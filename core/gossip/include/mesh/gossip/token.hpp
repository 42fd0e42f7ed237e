// Invite tokens (`mesh1.<base64url>`) and the 6-digit confirmation code. Format in
// docs/protocol.md ("Invite token").
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::gossip {

inline constexpr std::uint8_t kTokenVersion = 1;
inline constexpr std::string_view kTokenPrefix = "mesh1.";
inline constexpr std::size_t kMaxTokenAddresses = 16;
inline constexpr std::size_t kMaxAddressLength = 262;  // "[" 255-char host "]:" 5-digit port
inline constexpr std::size_t kMaxTokenName = 64;
inline constexpr std::size_t kTokenSecretSize = 16;
// version, key, address count, secret, expiry, name length, signature.
inline constexpr std::size_t kMaxTokenBinary = 1 + 32 + 1 +
                                               kMaxTokenAddresses * (2 + kMaxAddressLength) +
                                               kTokenSecretSize + 8 + 1 + kMaxTokenName + 64;
// Generous enough for a token that uses every limit at once; anything longer is refused unread.
inline constexpr std::size_t kMaxTokenText = 8 * 1024;
static_assert(kTokenPrefix.size() + (kMaxTokenBinary * 4 + 2) / 3 <= kMaxTokenText);

using TokenSecret = std::array<std::uint8_t, kTokenSecretSize>;

struct Token {
  std::uint8_t version = kTokenVersion;
  identity::PublicKey inviter;
  std::vector<std::string> addresses;  // "host:port" / "[v6]:port", in the inviter's order
  TokenSecret secret{};
  std::uint64_t expires_at = 0;  // unix seconds
  std::string name;              // the inviter's node name, for display
  identity::Signature signature{};
};

// "host:port" with a non-empty host of printable ASCII and a port in 1..65535.
bool valid_address(std::string_view address);
// 1..64 bytes, no control characters (it ends up on terminals).
bool valid_node_name(std::string_view name);

// A fresh random one-time secret.
TokenSecret random_secret();

// Signs and formats a token. Fails if a field breaks the limits above.
Result<std::string> make_token(const identity::Identity& inviter,
                               const std::vector<std::string>& addresses, const TokenSecret& secret,
                               std::uint64_t expires_at, std::string_view name);

// Parses and checks a token: prefix/version (Errc::unsupported), structure (Errc::invalid),
// text length (Errc::limit), signature (Errc::crypto), expiry against now_unix (Errc::denied).
// Burning the secret (single use) is the inviter's job, not the parser's.
Result<Token> parse_token(std::string_view text, std::uint64_t now_unix);

// The 6 digits both sides print after a join, so humans can compare them: the first 4 bytes of
// BLAKE2b-256("mesh-confirm-v1\0" || inviter || joiner || secret), big-endian, mod 10^6.
std::string confirmation_code(const identity::PublicKey& inviter, const identity::PublicKey& joiner,
                              const TokenSecret& secret);

}  // namespace mesh::gossip
