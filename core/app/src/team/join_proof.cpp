#include "join_proof.hpp"

#include <sodium.h>

#include <boost/json.hpp>

#include "mesh/base/encoding.hpp"

namespace mesh::app::team {
namespace json = boost::json;
using identity::PublicKey;

namespace {

constexpr std::string_view kJoinDomain{"mesh-join-v1\0", 13};

Bytes signing_input(const PublicKey& inviter, const PublicKey& joiner,
                    std::span<const std::uint8_t> mac, std::string_view name,
                    const std::vector<std::string>& addresses) {
  Bytes msg(kJoinDomain.begin(), kJoinDomain.end());
  msg.insert(msg.end(), inviter.bytes.begin(), inviter.bytes.end());
  msg.insert(msg.end(), joiner.bytes.begin(), joiner.bytes.end());
  msg.insert(msg.end(), mac.begin(), mac.end());
  msg.insert(msg.end(), name.begin(), name.end());
  msg.push_back(0);
  for (const auto& a : addresses) {
    msg.insert(msg.end(), a.begin(), a.end());
    msg.push_back('\n');
  }
  return msg;
}

std::string string_field(const json::object& o, std::string_view key) {
  const auto* p = o.if_contains(key);
  return p && p->is_string() ? std::string(p->as_string()) : std::string();
}

}  // namespace

JoinMac join_mac(const gossip::TokenSecret& secret, const PublicKey& inviter,
                 const PublicKey& joiner) {
  Bytes msg(kJoinDomain.begin(), kJoinDomain.end());
  msg.insert(msg.end(), inviter.bytes.begin(), inviter.bytes.end());
  msg.insert(msg.end(), joiner.bytes.begin(), joiner.bytes.end());
  JoinMac mac{};
  crypto_generichash(mac.data(), mac.size(), msg.data(), msg.size(), secret.data(), secret.size());
  return mac;
}

std::string make_join_body(const identity::Identity& joiner, const gossip::Token& token,
                           std::string_view name, const std::vector<std::string>& addresses) {
  auto mac = join_mac(token.secret, token.inviter, joiner.public_key());
  auto sig = joiner.sign(signing_input(token.inviter, joiner.public_key(), mac, name, addresses));
  json::array jaddrs;
  for (const auto& a : addresses) jaddrs.emplace_back(a);
  return json::serialize(json::object{{"v", 1},
                                      {"key", joiner.id()},
                                      {"name", name},
                                      {"addresses", jaddrs},
                                      {"mac", to_hex(mac)},
                                      {"sig", to_base64url(sig)}});
}

Result<JoinRequest> parse_join_body(std::string_view body, const PublicKey& inviter) {
  if (body.size() > kMaxJoinBody) return make_error(Errc::limit, "join request too large");
  boost::system::error_code ec;
  auto doc = json::parse(body, ec);
  if (ec || !doc.is_object()) return make_error(Errc::invalid, "malformed join request");
  const auto& o = doc.as_object();
  JoinRequest req;
  auto key = identity::parse_id(string_field(o, "key"));
  if (!key) return make_error(Errc::invalid, "malformed joiner key");
  req.joiner = *key;
  req.name = string_field(o, "name");
  if (!gossip::valid_node_name(req.name)) return make_error(Errc::invalid, "invalid node name");
  if (const auto* list = o.if_contains("addresses"); list && list->is_array()) {
    if (list->as_array().size() > gossip::kMaxTokenAddresses) {
      return make_error(Errc::invalid, "too many addresses");
    }
    for (const auto& a : list->as_array()) {
      if (!a.is_string() || !gossip::valid_address(a.as_string())) {
        std::string shown = a.is_string() ? std::string(a.as_string()).substr(0, 64) : "?";
        return make_error(Errc::invalid, "invalid address " + shown);
      }
      req.addresses.emplace_back(a.as_string());
    }
  }
  auto mac = from_hex(string_field(o, "mac"));
  auto sig = from_base64url(string_field(o, "sig"));
  if (!mac || mac->size() != req.mac.size() || !sig || sig->size() != req.sig.size()) {
    return make_error(Errc::invalid, "malformed join proof");
  }
  std::copy(mac->begin(), mac->end(), req.mac.begin());
  std::copy(sig->begin(), sig->end(), req.sig.begin());
  if (!req.joiner.verify(signing_input(inviter, req.joiner, req.mac, req.name, req.addresses),
                         req.sig)) {
    return make_error(Errc::crypto, "join request signature is invalid");
  }
  return req;
}

}  // namespace mesh::app::team
