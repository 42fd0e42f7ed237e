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

// Decides whether a certificate key belongs to a current roster member.
using MemberCheck = std::function<bool(const identity::PublicKey&)>;

struct ServerOptions {
  config::HostPort listen;
  config::HttpConfig limits;  // trust_loopback, sizes, timeouts, max_connections
  identity::TlsMaterial tls;
  MemberCheck is_member;  // may be empty: nobody is a member
};

class Server {
 public:
  // Binds and starts accepting on io. Fails with a clear message (e.g. "cannot listen on
  // 127.0.0.1:7979: address already in use").
  static Result<std::unique_ptr<Server>> start(boost::asio::io_context& io, ServerOptions options,
                                               std::shared_ptr<Router> router);
  virtual ~Server() = default;
  // The real bound address, "host:port".
  virtual std::string local_address() const = 0;
  virtual std::uint16_t port() const = 0;
  // Stops accepting and closes every connection. Idempotent.
  virtual void stop() = 0;
};

}  // namespace mesh::http
