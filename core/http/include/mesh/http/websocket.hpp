// Persistent message links (WebSocket over mutual TLS) and outbound HTTPS calls, behind plain
// interfaces so that gossip never sees Beast.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/http/router.hpp"
#include "mesh/identity/identity.hpp"

namespace boost::asio {
class io_context;
}

namespace mesh::http {

inline constexpr std::size_t kMaxWsMessage = 256 * 1024;
// Outbound queue cap per link; send() refuses beyond it so the caller applies backpressure.
inline constexpr std::size_t kMaxWsQueueBytes = 8 * 1024 * 1024;

// What one link may send: messages over max_send_message and sends that would queue more than
// max_queue_bytes are refused (send() returns false). Per server (ServerOptions::ws_limits) and
// per dial (DialOptions::limits); tests raise or lower them to provoke the peer's limits.
struct WsLimits {
  std::size_t max_send_message = kMaxWsMessage;
  std::size_t max_queue_bytes = kMaxWsQueueBytes;
};

// One established, authenticated link. Thread-safe. It keeps itself alive while it is open once
// start() was called; a link that is dropped before start() is closed.
class WsConnection {
 public:
  virtual ~WsConnection() = default;
  using OnMessage = std::function<void(std::string&& message)>;
  using OnClose = std::function<void(const std::string& reason)>;
  // Starts reading. Callbacks run on the connection's strand (an I/O thread): never block in
  // them. on_close runs exactly once, also after close().
  virtual void start(OnMessage on_message, OnClose on_close) = 0;
  // Queues one binary message. False if closed, over kMaxWsMessage, or the queue is full.
  virtual bool send(std::string message) = 0;
  virtual std::size_t queued_bytes() const = 0;
  virtual void close() = 0;
  // The authenticated key of the other side (member certificate / pinned server key).
  virtual const identity::PublicKey& peer() const = 0;
  virtual std::string remote() const = 0;  // "ip:port"
};

// Called on an accepted upgrade at a websocket route (members only), with the upgrade request.
using WsHandler = WsRouteHandler;

struct DialOptions {
  std::string host;
  std::uint16_t port = 0;
  identity::TlsMaterial tls;     // our certificate (mutual TLS)
  identity::PublicKey expected;  // the server's key must be exactly this (pinned)
  std::string path = "/mesh/link";
  std::vector<std::pair<std::string, std::string>> headers;  // extra upgrade headers
  std::chrono::milliseconds timeout{10'000};                 // connect + TLS + upgrade
  WsLimits limits;
};

// Dials host:port over TLS 1.3, presents our certificate, pins the server key, upgrades.
// `done` runs once, on an I/O thread of io. Errors: "connect to host:port: ...", "TLS: server key
// is not the expected member", "websocket upgrade refused: 403", "... timed out after N ms".
void dial_websocket(boost::asio::io_context& io, DialOptions options,
                    std::function<void(Result<std::shared_ptr<WsConnection>>)> done);

struct HttpsCall {
  std::string host;
  std::uint16_t port = 0;
  identity::PublicKey expected;                     // pinned server key
  std::optional<identity::TlsMaterial> client_tls;  // none: a certificate-less client
  std::string method = "POST";
  std::string path;
  std::string body;
  std::string content_type = "application/json";
  std::chrono::milliseconds timeout{10'000};
  std::size_t max_response_bytes = 1 << 20;
};

// One HTTPS request to a pinned server key (e.g. the join handshake). `done` runs once, on an
// I/O thread of io. Any HTTP status is a successful Result; a body over max_response_bytes is
// an error (Errc::limit).
void https_request(boost::asio::io_context& io, HttpsCall call,
                   std::function<void(Result<Response>)> done);

}  // namespace mesh::http
