// The HTTP access rules (see access.hpp). Pure: no I/O, no clock.
#include "mesh/http/access.hpp"

#include <openssl/crypto.h>

#include <boost/beast/core/string.hpp>
#include <boost/url/authority_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

namespace mesh::http {
namespace {

namespace urls = boost::urls;

// The host part of an authority names this machine's loopback interface.
bool loopback_host_part(const urls::authority_view& a) {
  switch (a.host_type()) {
    case urls::host_type::name:
      return boost::beast::iequals(a.encoded_host(), "localhost");
    case urls::host_type::ipv4:
      return a.host_ipv4_address().to_bytes()[0] == 127;
    case urls::host_type::ipv6: {
      auto v6 = a.host_ipv6_address();
      if (v6.is_loopback()) return true;
      return v6.is_v4_mapped() && v6.to_bytes()[12] == 127;
    }
    default:
      return false;
  }
}

// Same origin as a page of ours: http(s), no userinfo, a loopback host, our port.
bool same_origin_url(const urls::url_view& u, std::uint16_t port) {
  const auto scheme = u.scheme_id();
  if (scheme != urls::scheme::http && scheme != urls::scheme::https) return false;
  if (!u.has_authority() || u.has_userinfo()) return false;
  if (!loopback_host_part(u.authority())) return false;
  std::uint16_t effective = scheme == urls::scheme::https ? 443 : 80;
  if (u.has_port() && !u.port().empty()) {
    unsigned value = 0;
    auto text = u.port();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return false;
    effective = static_cast<std::uint16_t>(value);
  }
  return effective == port;
}

AccessDecision refuse(Refusal r) {
  return AccessDecision{r};
}

}  // namespace

Client classify_client(bool member_certificate, bool loopback_source, bool trust_loopback) {
  if (member_certificate) return Client::member;
  if (loopback_source && trust_loopback) return Client::local;
  return Client::stranger;
}

unsigned AccessDecision::status() const {
  switch (refusal) {
    case Refusal::none:
      return 200;
    case Refusal::bad_target:
      return 400;
    case Refusal::misdirected:
      return 421;
    case Refusal::member_required:
    case Refusal::local_only:
    case Refusal::cross_origin:
    case Refusal::csrf_origin:
    case Refusal::csrf_token:
      return 403;
  }
  return 403;
}

std::string_view AccessDecision::body() const {
  switch (refusal) {
    case Refusal::none:
      return {};
    case Refusal::member_required:
      return "a member certificate is required\n";
    case Refusal::local_only:
      return "this resource is for local clients only\n";
    case Refusal::bad_target:
      return "bad request target\n";
    case Refusal::misdirected:
      return "misdirected request: the Host header must name this machine (localhost, "
             "127.0.0.1 or [::1])\n";
    case Refusal::cross_origin:
      return "cross-origin request refused: the Origin is not this node\n";
    case Refusal::csrf_origin:
      return "refused: a same-origin Origin or Referer is required\n";
    case Refusal::csrf_token:
      return "refused: missing or wrong CSRF token (header X-Mesh-Csrf or form field csrf)\n";
  }
  return {};
}

bool state_changing(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

bool loopback_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  auto a = urls::parse_authority(host);
  if (!a || a->has_userinfo()) return false;
  return loopback_host_part(*a);
}

bool same_origin(std::string_view origin, std::uint16_t port) {
  if (origin.empty() || origin.size() > 255) return false;
  auto u = urls::parse_absolute_uri(origin);
  if (!u) return false;
  // An Origin is scheme://host[:port] and nothing else.
  if (!u->encoded_path().empty() || u->has_query() || u->has_fragment()) return false;
  return same_origin_url(*u, port);
}

bool same_origin_referer(std::string_view referer, std::uint16_t port) {
  if (referer.empty() || referer.size() > 8192) return false;
  auto u = urls::parse_uri(referer);
  return u && same_origin_url(*u, port);
}

CsrfProof check_csrf(std::string_view expected, std::optional<std::string_view> presented) {
  if (!presented) return CsrfProof::absent;
  if (expected.empty() || presented->size() != expected.size()) return CsrfProof::mismatch;
  return CRYPTO_memcmp(expected.data(), presented->data(), expected.size()) == 0
             ? CsrfProof::valid
             : CsrfProof::mismatch;
}

AccessDecision decide_access(const AccessQuery& q) {
  if (q.client == Client::stranger) {
    // Only the open routes (the join handshake), and nothing else is told apart.
    if (!q.target_ok || q.websocket || !q.route || *q.route != Access::open) {
      return refuse(Refusal::member_required);
    }
    return {};
  }
  if (q.client == Client::local) {
    // An open route needs no loopback trust, so none of its conditions apply.
    const bool open = q.target_ok && !q.websocket && q.route && *q.route == Access::open;
    if (!open) {
      if (!loopback_host(q.host)) return refuse(Refusal::misdirected);
      if (state_changing(q.method) && !q.origin.empty() && !same_origin(q.origin, q.port)) {
        return refuse(Refusal::cross_origin);
      }
    }
  }
  if (!q.target_ok) return refuse(Refusal::bad_target);
  if (q.websocket) {
    return q.client == Client::member ? AccessDecision{} : refuse(Refusal::member_required);
  }
  if (q.route && *q.route == Access::local) {
    if (q.client != Client::local) return refuse(Refusal::local_only);
    if (state_changing(q.method)) {
      // Origin, when present, is already known to be same-origin.
      if (q.origin.empty() && !same_origin_referer(q.referer, q.port)) {
        return refuse(Refusal::csrf_origin);
      }
      if (q.csrf != CsrfProof::valid) return refuse(Refusal::csrf_token);
    }
  }
  return {};
}

}  // namespace mesh::http
