// Who may do what over HTTP, as one pure function: the server gathers the facts of a request
// (who is asking, which route it reaches, Host, Origin, Referer, the CSRF proof) and
// decide_access() answers allow or a refusal with its status. No sockets and no Beast here, so
// every rule is unit-tested on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "mesh/http/router.hpp"

namespace mesh::http {

// Who is asking, as far as the connection tells.
enum class Client {
  member,    // presented the certificate of a current member (always TLS 1.3)
  local,     // no certificate, from a loopback address, and [http] trust_loopback is on
  stranger,  // anyone else: reaches Access::open routes only
};

Client classify_client(bool member_certificate, bool loopback_source, bool trust_loopback);

enum class Refusal {
  none,
  member_required,  // 403: a stranger on anything but an open route, or a non-member upgrade
  local_only,       // 403: a member on an Access::local route (the UI is the user's own)
  bad_target,       // 400: not an absolute path, or a dot segment
  misdirected,      // 421: a loopback client whose Host does not name this machine
  cross_origin,     // 403: a state-changing request from a loopback client, foreign Origin
  csrf_origin,      // 403: a state-changing UI request with no same-origin Origin or Referer
  csrf_token,       // 403: a state-changing UI request without the node's CSRF token
};

// What the request showed of the node's CSRF token (header X-Mesh-Csrf or form field csrf).
enum class CsrfProof { absent, mismatch, valid };

struct AccessQuery {
  Client client = Client::stranger;
  std::string_view method;  // upper case, as received
  bool target_ok = true;    // the path is absolute and has no "." or ".." segment
  bool websocket = false;   // an upgrade to a Router::add_websocket endpoint (members only)
  // The access level of the route that takes this method and path; nothing when no route does
  // (the caller then answers 404 or 405, if the client may learn that).
  std::optional<Access> route;
  // What a loopback client's trust also rests on (members are exempt).
  std::string_view host;     // the Host header; empty when absent
  std::string_view origin;   // the Origin header; empty when absent
  std::string_view referer;  // the Referer header; empty when absent
  std::uint16_t port = 0;    // the port this node listens on: same-origin means this port
  CsrfProof csrf = CsrfProof::absent;
};

struct AccessDecision {
  Refusal refusal = Refusal::none;

  bool allowed() const { return refusal == Refusal::none; }
  unsigned status() const;
  // The response body for a refusal (one line of text).
  std::string_view body() const;
};

// The rules, in order.
//  - A stranger reaches open routes only, and gets the same 403 for everything else (bad
//    targets and missing routes included), so the route table does not leak.
//  - A loopback client on an open route is judged like anyone (it needs no loopback trust).
//    Otherwise its trust also needs: a Host naming this machine (localhost, 127.x.y.z, [::1];
//    any port), else 421; and for a state-changing method (anything but GET, HEAD, OPTIONS) no
//    Origin or a same-origin one, else 403. git and curl send no Origin; a web page reaching the
//    node through DNS rebinding has a foreign Host, a cross-site form a foreign Origin.
//  - A malformed target is 400; a websocket upgrade needs a member; an Access::local route
//    refuses members.
//  - A state-changing request to an Access::local route (the web UI) also needs a same-origin
//    Origin or, without Origin, a same-origin Referer, and the node's CSRF token.
AccessDecision decide_access(const AccessQuery& q);

// Anything but GET, HEAD and OPTIONS.
bool state_changing(std::string_view method);
// A Host header value that names this machine: localhost, 127.x.y.z or [::1], any port.
bool loopback_host(std::string_view host);
// An Origin ("http(s)://host[:port]") or a Referer (a whole URL) of a page this node served:
// http or https, a loopback host, and `port` (written out, or the scheme's default).
bool same_origin(std::string_view origin, std::uint16_t port);
bool same_origin_referer(std::string_view referer, std::uint16_t port);
// Compares a presented token with the node's in constant time; an empty `expected` (no token
// configured) never matches, so state-changing UI requests are then always refused.
CsrfProof check_csrf(std::string_view expected, std::optional<std::string_view> presented);

}  // namespace mesh::http
