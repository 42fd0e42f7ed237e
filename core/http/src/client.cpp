// Outbound connections: TLS 1.3 to a pinned member key, then either a WebSocket link
// (websocket.cpp does the upgrade) or one HTTP/1.1 request. Same stream type as the server
// (Transport), so no further Beast stream instantiations.
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http.hpp>
#include <exception>

#include "transport.hpp"

namespace mesh::http {
namespace {

using namespace detail;
namespace bhttp = beast::http;

constexpr std::uint32_t kMaxResponseHeader = 64 * 1024;

// Calls the user's callback at most once, and never lets an exception out of it.
template <class T>
class Once {
 public:
  explicit Once(std::function<void(Result<T>)> fn) : fn_(std::move(fn)) {}
  void operator()(Result<T> r) {
    if (called_.exchange(true) || !fn_) return;
    try {
      fn_(std::move(r));
    } catch (const std::exception& e) {
      spdlog::error("http: client callback threw: {}", e.what());
    } catch (...) {
      spdlog::error("http: client callback threw");
    }
    fn_ = nullptr;
  }

 private:
  std::function<void(Result<T>)> fn_;
  std::atomic<bool> called_{false};
};

// One outbound connection. Everything runs on its strand; an established WebSocket link keeps
// it alive (it owns the Transport).
class ClientConn {
 public:
  ClientConn(asio::io_context& io, std::string host, std::uint16_t port,
             identity::PublicKey expected, std::chrono::milliseconds timeout)
      : strand_(asio::make_strand(io)),
        ssl_(asio::ssl::context::tls_client),
        transport_(tcp::socket(strand_)),
        resolver_(strand_),
        deadline_(strand_),
        host_(std::move(host)),
        port_(port),
        expected_(expected),
        timeout_(timeout),
        where_(host_ + ":" + std::to_string(port_)) {}

  asio::any_io_executor strand() const { return strand_; }
  Transport& transport() { return transport_; }
  const std::string& remote() const { return remote_; }
  const std::string& where() const { return where_; }

  // Resolves, connects (every resolved address in turn) and completes a TLS 1.3 handshake
  // whose server certificate must carry exactly the expected key. Arms the overall deadline,
  // which stays armed until disarm().
  asio::awaitable<Status> connect(const std::optional<identity::TlsMaterial>& tls) {
    if (auto st = setup_tls(tls); !st) co_return st;
    deadline_.expires_after(timeout_);
    deadline_.async_wait([this](error_code ec) {
      if (ec) return;
      timed_out_ = true;
      resolver_.cancel();
      transport_.close();
    });

    auto [rec, endpoints] =
        co_await resolver_.async_resolve(host_, std::to_string(port_), use_tuple);
    if (rec || endpoints.empty()) {
      co_return fail("connect to " + where_ + ": cannot resolve: ",
                     rec ? rec.message() : "no address");
    }
    auto [cec, ep] = co_await transport_.raw().async_connect(endpoints, use_tuple);
    if (cec) co_return fail("connect to " + where_ + ": ", cec.message());
    remote_ = format_endpoint(ep);
    error_code ignore;
    transport_.raw().socket().set_option(tcp::no_delay(true), ignore);

    TlsStream& stream = transport_.enable_tls(ssl_);
    // No CA: the only question is whether the leaf is the pinned key; the handshake proves
    // possession. Chain errors (self-signed) are irrelevant, a key mismatch is fatal.
    stream.set_verify_callback([this](bool, asio::ssl::verify_context& ctx) {
      X509_STORE_CTX* store = ctx.native_handle();
      if (X509_STORE_CTX_get_error_depth(store) > 0) return true;
      X509* cert = X509_STORE_CTX_get_current_cert(store);
      auto key = cert ? cert_key(cert) : std::nullopt;
      if (!key || *key != expected_) {
        key_mismatch_ = true;
        return false;
      }
      return true;
    });
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (hec) {
      if (key_mismatch_) {
        co_return make_error(Errc::crypto, "TLS: server key is not the expected member (" + where_ +
                                               ", expected " + expected_.short_id() + ")");
      }
      co_return fail("TLS handshake with " + where_ + ": ", hec.message());
    }
    // Belt and braces: whatever the callback saw, the leaf must be the pinned key.
    X509* cert = SSL_get0_peer_certificate(stream.native_handle());
    auto key = cert ? cert_key(cert) : std::nullopt;
    if (!key || *key != expected_) {
      co_return make_error(Errc::crypto,
                           "TLS: server key is not the expected member (" + where_ + ")");
    }
    co_return Status{};
  }

  // An error for a failed step; a step that failed because the deadline closed the socket
  // says so.
  Error fail(std::string prefix, std::string detail) const {
    if (timed_out_) {
      return make_error(Errc::io,
                        where_ + ": timed out after " + std::to_string(timeout_.count()) + " ms");
    }
    return make_error(Errc::io, std::move(prefix) + detail);
  }

  void disarm() { deadline_.cancel(); }
  void close() {
    disarm();
    transport_.close();
  }

 private:
  Status setup_tls(const std::optional<identity::TlsMaterial>& tls) {
    SSL_CTX* native = ssl_.native_handle();
    if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1) {
      return make_error(Errc::crypto, "cannot restrict TLS to version 1.3");
    }
    // Members are pinned by their Ed25519 key: ask for that certificate, never the P-256 one a
    // node also offers its local clients.
    if (SSL_CTX_set1_sigalgs_list(native, "ed25519") != 1) {
      return make_error(Errc::crypto, "cannot restrict TLS signatures to Ed25519");
    }
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
    error_code ec;
    if (tls) {
      ssl_.use_certificate_chain(asio::buffer(tls->cert_pem), ec);
      if (ec) return make_error(Errc::crypto, "bad TLS certificate: " + ec.message());
      ssl_.use_private_key(asio::buffer(tls->key_pem), asio::ssl::context::pem, ec);
      if (ec) return make_error(Errc::crypto, "bad TLS private key: " + ec.message());
      if (SSL_CTX_check_private_key(native) != 1) {
        return make_error(Errc::crypto, "the TLS private key does not match the certificate");
      }
    }
    ssl_.set_verify_mode(asio::ssl::verify_peer, ec);
    if (ec) return make_error(Errc::crypto, "cannot set the TLS verify mode: " + ec.message());
    return {};
  }

  asio::any_io_executor strand_;
  asio::ssl::context ssl_;  // before transport_: the TLS stream uses it
  Transport transport_;
  tcp::resolver resolver_;
  asio::steady_timer deadline_;
  std::string host_;
  std::uint16_t port_;
  identity::PublicKey expected_;
  std::chrono::milliseconds timeout_;
  std::string where_;
  std::string remote_;
  bool timed_out_ = false;
  bool key_mismatch_ = false;
};

using DialDone = Once<std::shared_ptr<WsConnection>>;
using CallDone = Once<Response>;

asio::awaitable<void> dial_op(std::shared_ptr<ClientConn> conn, DialOptions options,
                              std::shared_ptr<DialDone> done) {
  if (auto st = co_await conn->connect(options.tls); !st) {
    conn->close();
    (*done)(st.error());
    co_return;
  }
  auto link = co_await websocket_handshake(conn, conn->transport(), options, conn->remote());
  if (!link) {
    Error err = link.error();
    // In TLS 1.3 the server judges our certificate after the client's handshake is done, so a
    // refusal shows up here, as an alert.
    if (err.code == Errc::io) {
      err = conn->fail("", err.message);
      if (err.message.find("alert") != std::string::npos) {
        err = make_error(Errc::denied, "TLS: " + conn->where() + " refused our certificate (" +
                                           err.message + ")");
      }
    }
    conn->close();
    (*done)(std::move(err));
    co_return;
  }
  conn->disarm();
  spdlog::debug("http: link to {} ({}) established", conn->remote(), options.expected.short_id());
  (*done)(std::move(*link));
}

Result<bhttp::verb> parse_method(std::string_view method) {
  auto verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) return make_error(Errc::invalid, "unknown HTTP method");
  return verb;
}

asio::awaitable<void> call_op(std::shared_ptr<ClientConn> conn, HttpsCall call,
                              std::shared_ptr<CallDone> done) {
  auto verb = parse_method(call.method);
  if (!verb) {
    (*done)(verb.error());
    co_return;
  }
  if (call.path.empty() || call.path.front() != '/' ||
      call.path.find_first_of(" \r\n") != std::string::npos) {
    (*done)(make_error(Errc::invalid, "bad request path '" + call.path + "'"));
    co_return;
  }
  if (auto st = co_await conn->connect(call.client_tls); !st) {
    conn->close();
    (*done)(st.error());
    co_return;
  }

  bhttp::request<bhttp::string_body> req{*verb, call.path, 11};
  req.set(bhttp::field::host, call.host + ":" + std::to_string(call.port));
  req.set(bhttp::field::user_agent, "mesh");
  req.set(bhttp::field::connection, "close");
  if (!call.body.empty() || *verb == bhttp::verb::post || *verb == bhttp::verb::put) {
    req.set(bhttp::field::content_type, call.content_type);
  }
  req.body() = std::move(call.body);
  req.prepare_payload();
  {
    auto [ec, n] = co_await bhttp::async_write(conn->transport(), req, use_tuple);
    if (ec) {
      conn->close();
      (*done)(conn->fail("HTTPS request to " + conn->where() + ": ", ec.message()));
      co_return;
    }
  }

  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(kMaxResponseHeader);
  parser.body_limit(call.max_response_bytes);
  beast::flat_buffer buffer;
  auto [ec, n] = co_await bhttp::async_read(conn->transport(), buffer, parser, use_tuple);
  conn->close();
  if (ec == bhttp::error::body_limit) {
    (*done)(make_error(Errc::limit, "HTTPS response from " + conn->where() + " over " +
                                        std::to_string(call.max_response_bytes) + " bytes"));
    co_return;
  }
  if (ec) {
    (*done)(conn->fail("HTTPS response from " + conn->where() + ": ", ec.message()));
    co_return;
  }
  auto& msg = parser.get();
  Response r;
  r.status = msg.result_int();
  for (const auto& field : msg) {
    r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  r.body = std::move(msg.body());
  (*done)(std::move(r));
}

template <class T>
auto completion(std::shared_ptr<Once<T>> done, std::string what) {
  return [done, what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    std::string message = "unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      message = ex.what();
    } catch (...) {
    }
    spdlog::error("http: {} failed: {}", what, message);
    (*done)(make_error(Errc::internal, what + " failed: " + message));
  };
}

}  // namespace

void dial_websocket(boost::asio::io_context& io, DialOptions options,
                    std::function<void(Result<std::shared_ptr<WsConnection>>)> done) {
  auto once = std::make_shared<DialDone>(std::move(done));
  try {
    auto conn = std::make_shared<ClientConn>(io, options.host, options.port, options.expected,
                                             options.timeout);
    std::string what = "dialling " + conn->where();
    auto ex = conn->strand();
    asio::co_spawn(ex, dial_op(std::move(conn), std::move(options), once),
                   completion(once, std::move(what)));
  } catch (const std::exception& e) {
    (*once)(make_error(Errc::internal, std::string("cannot dial: ") + e.what()));
  }
}

void https_request(boost::asio::io_context& io, HttpsCall call,
                   std::function<void(Result<Response>)> done) {
  auto once = std::make_shared<CallDone>(std::move(done));
  try {
    auto conn = std::make_shared<ClientConn>(io, call.host, call.port, call.expected, call.timeout);
    std::string what = "HTTPS request to " + conn->where();
    auto ex = conn->strand();
    asio::co_spawn(ex, call_op(std::move(conn), std::move(call), once),
                   completion(once, std::move(what)));
  } catch (const std::exception& e) {
    (*once)(make_error(Errc::internal, std::string("cannot start an HTTPS request: ") + e.what()));
  }
}

}  // namespace mesh::http
