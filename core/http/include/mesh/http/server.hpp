// The node's one listener: TLS 1.3 and plain HTTP on the same port (told apart by the first
// bytes), mutual TLS for members, plain / cert-less TLS for loopback clients only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "mesh/base/result.hpp"
#include "mesh/config/config.hpp"
#include "mesh/http/connection_gate.hpp"
#include "mesh/http/router.hpp"
#include "mesh/http/websocket.hpp"
#include "mesh/identity/identity.hpp"

namespace boost::asio {
class io_context;
}

namespace mesh::http {

// Decides whether a certificate key belongs to a current roster member. Called during every TLS
// handshake that presents a client certificate, on an I/O thread: it must be thread-safe and
// fast (no blocking). There are no session tickets, so a removed key is refused at its next
// connection.
using MemberCheck = std::function<bool(const identity::PublicKey&)>;

struct ServerOptions {
  // "0.0.0.0", "127.0.0.1", "::", "[::1]", "localhost" (= 127.0.0.1) or a resolvable name;
  // port 0 picks a free port (see Server::port()).
  config::HostPort listen;
  config::HttpConfig limits;  // trust_loopback, sizes, timeouts, max_connections
  identity::TlsMaterial tls;  // the node's Ed25519 certificate: members, and local clients
  // An ECDSA P-256 certificate (identity/local_tls.hpp) for local clients without TLS 1.3 or
  // Ed25519; with it the listener also speaks TLS 1.2, to certificate-less clients only.
  std::optional<identity::TlsMaterial> local_tls;
  MemberCheck is_member;  // may be empty: nobody is a member
  WsLimits ws_limits;     // for the links accepted at Router::add_websocket endpoints
  // Per-address caps and the reserve for loopback clients and members (connection_gate.hpp);
  // its max_connections is taken from limits.max_connections.
  CapacityLimits capacity;
  // The token that state-changing requests to Access::local routes (the web UI's forms and
  // scripts) must carry, in header X-Mesh-Csrf or a form field `csrf`. Empty: such requests are
  // always refused.
  std::string csrf_token;
};

// Access rules, per request (decide_access in access.hpp has them all): a member = presented a
// member certificate (Request::peer set); a local client = no certificate, loopback address and
// limits.trust_loopback, with a Host naming this machine (else 421) and, for state-changing
// methods, no Origin or a same-origin one (else 403). Anyone else reaches Access::open routes
// only and otherwise gets 403 "a member certificate is required" (also for paths with no route,
// so the route table does not leak). Access::local routes also refuse members (403), and their
// state-changing requests need the CSRF token and a same-origin Origin or Referer (403). A
// non-member certificate fails the TLS handshake. WebSocket upgrades to a Router::add_websocket
// path are for members only (403 for anyone else); the link keeps running until it closes or
// stop() closes it.
// Limits: limits.max_header_bytes (431), RouteOptions::max_body (413), header/body/idle timeouts
// (disconnect), connection slots (ServerOptions::capacity: beyond them a new connection is
// accepted and closed at once, and each refusing address is logged once per interval).
class Server {
 public:
  // Binds and starts accepting on io. Fails with a clear message (e.g. "cannot listen on
  // 127.0.0.1:7979: address already in use").
  static Result<std::unique_ptr<Server>> start(boost::asio::io_context& io, ServerOptions options,
                                               std::shared_ptr<Router> router);
  virtual ~Server() = default;
  // The real bound address, "host:port" ("[v6]:port" for IPv6).
  virtual std::string local_address() const = 0;
  virtual std::uint16_t port() const = 0;
  // Stops accepting and closes every connection (asynchronously, on their strands), so the
  // io_context runs out of work by itself. Idempotent and callable from any thread; the
  // destructor calls it. Requests still in a handler are dropped, their Responders no-ops.
  virtual void stop() = 0;
};

}  // namespace mesh::http
