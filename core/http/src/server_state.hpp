// Internal to mesh_http: what the listener, the accept loop and every connection share.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "mesh/http/connection_gate.hpp"
#include "mesh/http/router.hpp"
#include "mesh/http/server.hpp"

namespace mesh::http::detail {

class Session;

// Lives as long as the server object, the accept loop or any session, so a Server can be
// destroyed while connections wind down.
struct State {
  State(boost::asio::io_context& io_, ServerOptions opts, std::shared_ptr<Router> r)
      : io(io_),
        options(std::move(opts)),
        router(std::move(r)),
        ssl(boost::asio::ssl::context::tls_server),
        acceptor(boost::asio::make_strand(io_)) {
    CapacityLimits capacity = options.capacity;
    capacity.max_connections = options.limits.max_connections;
    gate = ConnectionGate::create(capacity);
  }

  boost::asio::io_context& io;
  ServerOptions options;
  std::shared_ptr<Router> router;
  boost::asio::ssl::context ssl;
  boost::asio::ip::tcp::acceptor acceptor;
  std::string local;
  std::uint16_t port = 0;
  std::atomic<bool> stopped{false};
  std::shared_ptr<ConnectionGate> gate;  // who gets a connection slot

  // The registry stop() walks to close every connection.
  std::mutex mu;
  std::uint64_t next_session = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions;
};

}  // namespace mesh::http::detail
