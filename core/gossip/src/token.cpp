#include "mesh/gossip/token.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "mesh/base/encoding.hpp"
#include "wire.hpp"

namespace mesh::gossip {
namespace {

constexpr std::string_view kDomain{"mesh-invite-v1\0", 15};
constexpr std::string_view kConfirmDomain{"mesh-confirm-v1\0", 16};

Error malformed() {
  return make_error(Errc::invalid, "malformed invite token");
}

Bytes signed_part(const Token& t) {
  Bytes out;
  wire::Writer w(out);
  w.u8(t.version);
  w.raw(t.inviter.bytes);
  w.u8(static_cast<std::uint8_t>(t.addresses.size()));
  for (const auto& a : t.addresses) {
    w.u16(static_cast<std::uint16_t>(a.size()));
    w.raw(a);
  }
  w.raw(t.secret);
  w.u64(t.expires_at);
  w.u8(static_cast<std::uint8_t>(t.name.size()));
  w.raw(t.name);
  return out;
}

Bytes signing_input(const Bytes& body) {
  Bytes out;
  out.reserve(kDomain.size() + body.size());
  wire::Writer w(out);
  w.raw(kDomain);
  w.raw(body);
  return out;
}

std::string utc_time(std::uint64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(std::min<std::uint64_t>(unix_seconds, 253402300799));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

}  // namespace

bool valid_address(std::string_view a) {
  if (a.empty() || a.size() > kMaxAddressLength) return false;
  if (!std::all_of(a.begin(), a.end(), [](char c) { return c > 0x20 && c < 0x7f; })) return false;
  auto colon = a.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto port = a.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port[0] == '0') return false;
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value >= 1 && value <= 65535;
}

bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxTokenName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f;
  });
}

TokenSecret random_secret() {
  if (sodium_init() < 0) std::abort();
  TokenSecret s{};
  randombytes_buf(s.data(), s.size());
  return s;
}

Result<std::string> make_token(const identity::Identity& inviter,
                               const std::vector<std::string>& addresses, const TokenSecret& secret,
                               std::uint64_t expires_at, std::string_view name) {
  if (addresses.size() > kMaxTokenAddresses) {
    return make_error(Errc::limit, "an invite carries at most " +
                                       std::to_string(kMaxTokenAddresses) + " addresses");
  }
  for (const auto& a : addresses) {
    if (!valid_address(a)) return make_error(Errc::invalid, "bad invite address: " + a);
  }
  if (!valid_node_name(name)) {
    return make_error(Errc::invalid, "the node name must be 1-64 bytes without control characters");
  }
  Token t;
  t.inviter = inviter.public_key();
  t.addresses = addresses;
  t.secret = secret;
  t.expires_at = expires_at;
  t.name = std::string(name);
  Bytes body = signed_part(t);
  auto sig = inviter.sign(signing_input(body));
  body.insert(body.end(), sig.begin(), sig.end());
  return std::string(kTokenPrefix) + to_base64url(body);
}

Result<Token> parse_token(std::string_view text, std::uint64_t now_unix) {
  if (text.size() > kMaxTokenText) {
    return make_error(Errc::limit, "invite token is too long (" + std::to_string(text.size()) +
                                       " characters, the limit is " +
                                       std::to_string(kMaxTokenText) + ")");
  }
  // Pasted tokens often pick up surrounding whitespace.
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n' ||
                           text.front() == '\r'))
    text.remove_prefix(1);
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' || text.back() == '\r'))
    text.remove_suffix(1);

  auto different_version = [] {
    return make_error(Errc::unsupported, "this token is for a different mesh version");
  };
  if (!text.starts_with(kTokenPrefix)) {
    // "mesh<digits>." is a token from another version; anything else is not a token at all.
    if (text.starts_with("mesh")) {
      auto dot = text.find('.');
      auto digits = text.substr(4, dot == std::string_view::npos ? 0 : dot - 4);
      if (!digits.empty() &&
          std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return different_version();
      }
    }
    return malformed();
  }
  auto raw = from_base64url(text.substr(kTokenPrefix.size()));
  if (!raw || raw->empty() || raw->size() > kMaxTokenBinary) return malformed();
  if ((*raw)[0] != kTokenVersion) return different_version();

  wire::Reader r(*raw);
  Token t;
  std::span<const std::uint8_t> key, secret, name, sig;
  std::uint8_t count = 0, name_len = 0;
  if (!r.u8(t.version) || !r.raw(32, key) || !r.u8(count)) return malformed();
  if (count > kMaxTokenAddresses) return malformed();
  for (unsigned i = 0; i < count; ++i) {
    std::uint16_t len = 0;
    std::span<const std::uint8_t> addr;
    if (!r.u16(len) || len > kMaxAddressLength || !r.raw(len, addr)) return malformed();
    std::string a(addr.begin(), addr.end());
    if (!valid_address(a)) return malformed();
    t.addresses.push_back(std::move(a));
  }
  if (!r.raw(kTokenSecretSize, secret) || !r.u64(t.expires_at) || !r.u8(name_len) ||
      !r.raw(name_len, name)) {
    return malformed();
  }
  auto signed_len = r.position();
  if (!r.raw(64, sig) || r.remaining() != 0) return malformed();
  std::copy(key.begin(), key.end(), t.inviter.bytes.begin());
  std::copy(secret.begin(), secret.end(), t.secret.begin());
  std::copy(sig.begin(), sig.end(), t.signature.begin());
  t.name.assign(name.begin(), name.end());
  if (!valid_node_name(t.name)) return malformed();

  Bytes body(raw->begin(), raw->begin() + static_cast<std::ptrdiff_t>(signed_len));
  if (!t.inviter.verify(signing_input(body), t.signature)) {
    return make_error(Errc::crypto, "invite token signature is invalid");
  }
  if (now_unix > t.expires_at) {
    return make_error(Errc::denied, "invite token expired at " + utc_time(t.expires_at) +
                                        "; ask for a new one (mesh invite)");
  }
  return t;
}

std::string confirmation_code(const identity::PublicKey& inviter, const identity::PublicKey& joiner,
                              const TokenSecret& secret) {
  if (sodium_init() < 0) std::abort();
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(kConfirmDomain.data()),
                            kConfirmDomain.size());
  crypto_generichash_update(&st, inviter.bytes.data(), inviter.bytes.size());
  crypto_generichash_update(&st, joiner.bytes.data(), joiner.bytes.size());
  crypto_generichash_update(&st, secret.data(), secret.size());
  std::array<std::uint8_t, 32> digest{};
  crypto_generichash_final(&st, digest.data(), digest.size());
  char buf[8];
  std::snprintf(buf, sizeof buf, "%06u", wire::load_be32(digest.data()) % 1000000u);
  return buf;
}

}  // namespace mesh::gossip
