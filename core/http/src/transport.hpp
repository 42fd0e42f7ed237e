// Internal to mesh_http: the one stream type every Beast operation in this module runs on
// (plain TCP or TLS behind one type, PLATFORM.md: each extra stream type roughly doubles the
// compile time of a translation unit), plus the helpers shared by server, client and links.
// Included only by core/http/src/*.cpp, never by a public header.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/http/router.hpp"
#include "mesh/http/websocket.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using beast::error_code;

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using IoSig = void(error_code, std::size_t);
using IoHandler = asio::any_completion_handler<IoSig>;
using TlsStream = asio::ssl::stream<beast::tcp_stream&>;

// Up to 16 buffers of a write, copied out of whatever sequence Beast's serializer produced.
struct ConstBuffers {
  std::array<asio::const_buffer, 16> items{};
  std::size_t count = 0;
  const asio::const_buffer* begin() const { return items.data(); }
  const asio::const_buffer* end() const { return items.data() + count; }
};

// Plain TCP or TLS over the same tcp_stream, behind one type. The type erasure sits at
// read_some/write_some (one virtual-like hop per syscall-sized operation), which is cheap at
// run time and keeps compile time down. Server connections, client connections and WebSocket
// links (websocket::stream<Transport&>) all use it. Not movable: the TLS layer refers to tcp_.
class Transport {
 public:
  using executor_type = asio::any_io_executor;

  explicit Transport(tcp::socket socket) : tcp_(std::move(socket)) {}
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  executor_type get_executor() { return tcp_.get_executor(); }
  beast::tcp_stream& raw() { return tcp_; }
  TlsStream* tls() { return tls_ ? &*tls_ : nullptr; }
  TlsStream& enable_tls(asio::ssl::context& ctx) { return tls_.emplace(tcp_, ctx); }

  // Closes the socket at once (shutdown first, so the peer sees FIN rather than a hang).
  void close() {
    error_code ec;
    tcp_.socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_.close();
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    asio::mutable_buffer first;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      asio::mutable_buffer b(*it);
      if (b.size() != 0) {
        first = b;
        break;
      }
    }
    return asio::async_initiate<Token, IoSig>(
        [this](auto handler, asio::mutable_buffer buf) {
          read_some(buf, IoHandler(std::move(handler)));
        },
        token, first);
  }

  template <class ConstBufferSeq, class Token>
  auto async_write_some(const ConstBufferSeq& buffers, Token&& token) {
    ConstBuffers seq;
    for (auto it = asio::buffer_sequence_begin(buffers);
         it != asio::buffer_sequence_end(buffers) && seq.count < seq.items.size(); ++it) {
      asio::const_buffer b(*it);
      if (b.size() != 0) seq.items[seq.count++] = b;
    }
    return asio::async_initiate<Token, IoSig>(
        [this](auto handler, const ConstBuffers& seq) {
          write_some(seq, IoHandler(std::move(handler)));
        },
        token, seq);
  }

  // Beast's customisation points, so that websocket::stream<Transport&> can close and tear
  // down. The close frame exchange already ended the conversation, so teardown just closes
  // (no TLS close_notify round trip that a dead peer could stall).
  friend void beast_close_socket(Transport& t) { t.close(); }
  friend void teardown(beast::role_type, Transport& t, error_code& ec) {
    t.close();
    ec = {};
  }
  template <class Handler>
  friend void async_teardown(beast::role_type, Transport& t, Handler&& handler) {
    t.close();
    asio::post(t.get_executor(),
               beast::bind_front_handler(std::forward<Handler>(handler), error_code{}));
  }

 private:
  // The handler is bound to the connection's strand (which is also the caller's executor):
  // Asio 1.81's any_completion_executor cannot be posted to with blocking.never.
  void read_some(asio::mutable_buffer buf, IoHandler handler) {
    auto bound = asio::bind_executor(tcp_.get_executor(), std::move(handler));
    if (tls_) {
      tls_->async_read_some(buf, std::move(bound));
    } else {
      tcp_.async_read_some(buf, std::move(bound));
    }
  }
  void write_some(const ConstBuffers& seq, IoHandler handler) {
    auto bound = asio::bind_executor(tcp_.get_executor(), std::move(handler));
    if (tls_) {
      tls_->async_write_some(seq, std::move(bound));
    } else {
      tcp_.async_write_some(seq, std::move(bound));
    }
  }

  beast::tcp_stream tcp_;
  std::optional<TlsStream> tls_;
};

inline std::string format_endpoint(const tcp::endpoint& ep) {
  auto a = ep.address();
  if (a.is_v6()) return "[" + a.to_string() + "]:" + std::to_string(ep.port());
  return a.to_string() + ":" + std::to_string(ep.port());
}

// The Ed25519 key of a certificate, or nothing for any other key type / a broken certificate.
inline std::optional<identity::PublicKey> cert_key(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0 || len > 64 * 1024) return std::nullopt;
  std::vector<std::uint8_t> der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (i2d_X509(cert, &p) != len) return std::nullopt;
  auto key = identity::key_from_cert_der(der);
  if (!key) return std::nullopt;
  return *key;
}

using UpgradeRequest = beast::http::request<beast::http::string_body>;

// websocket.cpp: the only translation unit that instantiates websocket::stream<Transport&>.
//
// Server side: accepts `upgrade` on `transport` (already authenticated as `peer`), then calls
// `handler(request, link)` on the transport's strand. `owner` keeps the transport alive and
// is held by the link for its whole life.
void accept_websocket(std::shared_ptr<void> owner, Transport& transport, UpgradeRequest upgrade,
                      Request request, identity::PublicKey peer, std::string remote,
                      WsRouteHandler handler, WsLimits limits);

// Client side: the WebSocket handshake over an established (TLS) transport. Runs on the
// transport's strand.
asio::awaitable<Result<std::shared_ptr<WsConnection>>> websocket_handshake(
    std::shared_ptr<void> owner, Transport& transport, const DialOptions& options,
    std::string remote);

}  // namespace mesh::http::detail
