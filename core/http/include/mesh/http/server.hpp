// The node's one listener: TLS 1.3 and plain HTTP on the same port (told apart by the first
// bytes), mutual TLS for members, plain / cert-less TLS for loopback clients only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mesh/base/result.hpp"
#include "mesh/config/config.hpp"
#include "mesh/http/router.hpp"
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
  identity::TlsMaterial tls;
  MemberCheck is_member;  // may be empty: nobody is a member
};

// Access rules, per request: a member = presented a member certificate (Request::peer set); a
// local client = no certificate, loopback address and limits.trust_loopback. Anyone else
// reaches Access::open routes only and otherwise gets 403 "a member certificate is required"
// (also for paths with no route, so the route table does not leak). Access::local routes also
// refuse members (403). A non-member certificate fails the TLS handshake. WebSocket upgrades
// to a Router::add_websocket path are for members only (403 for anyone else); the link keeps
// running until it closes or stop() closes it.
// Limits: limits.max_header_bytes (431), RouteOptions::max_body (413), header/body/idle timeouts
// (disconnect), max_connections (further connections are closed at once).
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
