// The one listener. Every HTTP read and write goes through one stream type (Transport,
// transport.hpp) so that Beast's parser and serializer are instantiated only once; accepted
// WebSocket upgrades are handed to websocket.cpp and the body of a streamed exchange to
// stream_exchange.cpp (PLATFORM.md: Beast costs 10-20 s per translation unit, so each file
// instantiates as little as possible).
#include "mesh/http/server.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "stream_exchange.hpp"
#include "transport.hpp"

namespace mesh::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;
using detail::cert_key;
using detail::format_endpoint;
using detail::TlsStream;
using detail::Transport;
using detail::use_tuple;
using std::chrono::milliseconds;

constexpr std::string_view kMemberRequired = "a member certificate is required\n";
constexpr std::size_t kReadChunk = 4096;
// After an error response we drain (and discard) what the client still sends, so that closing
// with unread input does not reset the connection and destroy the response in flight.
constexpr std::size_t kMaxDrainBytes = 256 * 1024;
constexpr milliseconds kDrainTime{1000};

bool is_loopback(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return a.is_loopback();
}

bool clean_header_text(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

// Dot segments are never sent by real clients (they normalise them) and would let a path
// escape the prefix a route was registered for.
bool has_dot_segment(std::string_view path) {
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    auto seg = path.substr(i, j - i);
    if (seg == "." || seg == "..") return true;
    i = j + 1;
  }
  return false;
}

// Copies a handler's headers into `h`, dropping malformed ones and those we set ourselves
// (framing); "Connection: close" clears `keep_alive`.
void copy_headers(const std::vector<std::pair<std::string, std::string>>& headers, bhttp::fields& h,
                  bool& keep_alive) {
  for (const auto& [name, value] : headers) {
    if (name.empty() || !clean_header_text(name) || !clean_header_text(value) ||
        name.find_first_of(": \t") != std::string::npos) {
      spdlog::warn("http: dropping a malformed response header from a handler");
      continue;
    }
    if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding")) {
      continue;  // we frame the body ourselves
    }
    if (beast::iequals(name, "Connection")) {
      if (beast::iequals(value, "close")) keep_alive = false;
      continue;
    }
    h.insert(name, value);
  }
}

void log_exception(std::string_view what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("http: {} failed: {}", what, ex.what());
  } catch (...) {
    spdlog::error("http: {} failed with an unknown exception", what);
  }
}

class Session;

// Shared by the server object, the accept loop and every session; lives as long as any of
// them, so a Server can be destroyed while connections wind down.
struct State {
  State(asio::io_context& io_, ServerOptions opts, std::shared_ptr<Router> r)
      : io(io_),
        options(std::move(opts)),
        router(std::move(r)),
        ssl(asio::ssl::context::tls_server),
        acceptor(asio::make_strand(io_)) {}

  asio::io_context& io;
  ServerOptions options;
  std::shared_ptr<Router> router;
  asio::ssl::context ssl;
  tcp::acceptor acceptor;
  std::string local;
  std::uint16_t port = 0;
  std::atomic<bool> stopped{false};
  std::atomic<std::uint32_t> connections{0};

  std::mutex mu;
  std::uint64_t next_session = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions;
};

// The handler's side of one request. Copies of the Responder share it; answering twice is a
// no-op, and if every copy is dropped unanswered the client gets a 500 instead of a hang.
class ReplySlot {
 public:
  ReplySlot(std::weak_ptr<Session> session, asio::any_io_executor strand, std::uint64_t seq)
      : session_(std::move(session)), strand_(std::move(strand)), seq_(seq) {}
  ~ReplySlot() {
    if (!answered_.load()) {
      try {
        answer(Response::text(500, "the handler did not answer\n"));
      } catch (...) {
      }
    }
  }
  void answer(Response r);

 private:
  std::weak_ptr<Session> session_;
  asio::any_io_executor strand_;
  std::uint64_t seq_;
  std::atomic<bool> answered_{false};
};

// What a streamed read hands back: the bytes, and whether the body ended with them (so that the
// next read() can say 0 without asking the connection, which may have moved on by then).
struct ReadOutcome {
  ReadOutcome(Error e) : n(std::move(e)) {}
  ReadOutcome(std::size_t bytes, bool done) : n(bytes), body_done(done) {}
  Result<std::size_t> n;
  bool body_done = false;
};

// The worker's side of one streamed exchange. Each call runs one operation on the session's
// strand and blocks on a future. The promise lives in that operation's coroutine frame, so if
// the session dies first (the frame is destroyed unfinished) the promise breaks and the caller
// gets Errc::io instead of waiting forever. Dropping the last reference tells the session.
class StreamSlot final : public Exchange {
 public:
  StreamSlot(std::weak_ptr<Session> session, asio::any_io_executor strand, std::uint64_t seq)
      : session_(std::move(session)), strand_(std::move(strand)), seq_(seq) {}
  ~StreamSlot() override;

  Result<std::size_t> read(char* buf, std::size_t cap) override;
  Status begin(unsigned status, std::vector<std::pair<std::string, std::string>> headers) override;
  Status write(std::string_view data) override;
  Status end(bool ok) override;
  Status respond(Response r) override;

 private:
  // Runs make_op(session, promise) on the strand and waits for the promise.
  template <class R, class MakeOp>
  R call(std::atomic<bool>& busy, std::string_view what, MakeOp make_op);
  bool on_strand() const;

  std::weak_ptr<Session> session_;
  asio::any_io_executor strand_;
  std::uint64_t seq_;
  std::atomic<bool> reading_{false};
  std::atomic<bool> writing_{false};  // begin, write, end and respond
  std::atomic<bool> eof_{false};      // a read saw the end of the body
  // end() or respond() ran: the answer is final whatever the connection does next.
  std::atomic<bool> finished_{false};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<State> state, tcp::socket socket, tcp::endpoint remote, std::uint64_t id)
      : state_(std::move(state)),
        id_(id),
        strand_(socket.get_executor()),
        transport_(std::move(socket)),
        wake_(strand_),
        // Room for the header limit plus 64 KiB socket reads of streamed bodies.
        buffer_(std::max<std::size_t>(state_->options.limits.max_header_bytes, 1024) + 65536),
        remote_(format_endpoint(remote)),
        loopback_(is_loopback(remote.address())) {}

  ~Session() {
    state_->connections.fetch_sub(1);
    std::lock_guard lock(state_->mu);
    state_->sessions.erase(id_);
  }

  void start() {
    asio::co_spawn(strand_, run(), [self = shared_from_this()](std::exception_ptr e) {
      log_exception("connection from " + self->remote_, e);
    });
  }

  // Thread-safe: closes the socket on the strand, which ends every pending operation.
  void close() {
    {
      std::lock_guard lock(post_mu_);
      shut_ = true;
    }
    asio::post(strand_, [self = shared_from_this()] {
      self->closing_ = true;
      error_code ec;
      self->transport_.raw().socket().shutdown(tcp::socket::shutdown_both, ec);
      self->transport_.raw().close();
      self->wake_.cancel();
    });
  }

  // On the strand: the handler's answer for request `seq`.
  void deliver(std::uint64_t seq, Response r) {
    if (seq != seq_ || reply_) return;
    reply_ = std::move(r);
    wake_.cancel();
  }

  // Thread-safe: starts a streamed exchange's operation on the strand; false once close() was
  // called. The lock orders the post before close()'s, so an accepted operation runs (and
  // fails) even while the server stops and the io_context winds down.
  bool spawn(asio::awaitable<void> op) {
    std::lock_guard lock(post_mu_);
    if (shut_) return false;
    asio::co_spawn(strand_, std::move(op),
                   [](std::exception_ptr e) { log_exception("a streamed exchange", e); });
    return true;
  }

  // The operations behind StreamSlot. Each holds the session while it runs and fulfils `done`.
  static asio::awaitable<void> op_read(std::shared_ptr<Session> self, std::uint64_t seq, char* out,
                                       std::size_t cap, std::promise<ReadOutcome> done) {
    done.set_value(co_await self->stream_read(seq, out, cap));
  }
  static asio::awaitable<void> op_begin(std::shared_ptr<Session> self, std::uint64_t seq,
                                        unsigned status,
                                        std::vector<std::pair<std::string, std::string>> headers,
                                        std::promise<Status> done) {
    done.set_value(co_await self->stream_begin(seq, status, std::move(headers)));
  }
  static asio::awaitable<void> op_write(std::shared_ptr<Session> self, std::uint64_t seq,
                                        std::string_view data, std::promise<Status> done) {
    done.set_value(co_await self->stream_write(seq, data));
  }
  static asio::awaitable<void> op_end(std::shared_ptr<Session> self, std::uint64_t seq, bool ok,
                                      std::promise<Status> done) {
    done.set_value(co_await self->stream_end(seq, ok));
  }
  static asio::awaitable<void> op_respond(std::shared_ptr<Session> self, std::uint64_t seq,
                                          Response r, std::promise<Status> done) {
    done.set_value(co_await self->stream_respond(seq, std::move(r)));
  }

  // On the strand: every Exchange reference of request `seq` is gone.
  void stream_abandoned(std::uint64_t seq) {
    if (!stream_ || stream_->seq != seq) return;
    auto& st = *stream_;
    st.abandoned = true;
    if (st.begun && !st.ended) st.ended = true;  // broken off: st.clean stays false
    wake_.cancel();
  }

 private:
  // One streamed exchange (strand only).
  struct StreamState {
    std::uint64_t seq = 0;
    std::unique_ptr<detail::BodyStream> io;
    std::optional<Error> body_error;  // reads fail the same way from then on
    bool reading = false;             // an operation is on the wire
    bool writing = false;
    bool begun = false;  // begin() or a whole response started
    bool ended = false;  // the response is complete (clean) or broken off (!clean)
    bool clean = false;
    bool keep_alive = false;  // what the response announced
    bool abandoned = false;   // no Exchange reference left (or the handler threw)
    bool over = false;        // serve_stream moved on: every further operation fails
  };

  const config::HttpConfig& limits() const { return state_->options.limits; }
  beast::tcp_stream& raw() { return transport_.raw(); }

  asio::awaitable<void> run() {
    raw().expires_after(milliseconds(limits().header_timeout_ms));
    auto [ec, is_tls] = co_await beast::async_detect_ssl(raw(), buffer_, use_tuple);
    if (ec) {
      spdlog::debug("http: {}: no request: {}", remote_, ec.message());
      co_return;
    }
    if (is_tls && !co_await handshake()) co_return;
    while (!closing_) {
      if (!co_await serve_one()) break;
      first_ = false;
    }
    if (!upgraded_) co_await finish();
  }

  asio::awaitable<bool> handshake() {
    TlsStream& tls = transport_.enable_tls(state_->ssl);
    tls.set_verify_callback(
        [this](bool, asio::ssl::verify_context& ctx) { return verify_peer(ctx.native_handle()); });
    auto [ec, used] =
        co_await tls.async_handshake(asio::ssl::stream_base::server, buffer_.data(), use_tuple);
    if (ec) {
      if (!refused_) spdlog::debug("http: {}: TLS handshake failed: {}", remote_, ec.message());
      co_return false;
    }
    buffer_.consume(used);
    // Belt and braces: whatever the verify callback saw, the leaf that was presented must be a
    // member's. (OpenSSL might not report the leaf to the callback in every error path.)
    if (X509* cert = SSL_get0_peer_certificate(tls.native_handle())) {
      auto key = cert_key(cert);
      if (!key || !member(*key)) {
        spdlog::warn("http: {}: refusing a TLS client certificate that is not a member's", remote_);
        co_return false;
      }
      peer_ = *key;
    }
    co_return true;
  }

  bool member(const identity::PublicKey& key) const {
    const auto& check = state_->options.is_member;
    return check && check(key);
  }

  // There is no CA: the only question is whether the leaf's Ed25519 key is a roster member.
  // Chain errors are therefore irrelevant; the TLS handshake itself proves key possession.
  bool verify_peer(X509_STORE_CTX* store) {
    if (X509_STORE_CTX_get_error_depth(store) > 0) return true;
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    if (!cert) return false;
    auto key = cert_key(cert);
    if (!key) {
      if (!refused_) spdlog::warn("http: {}: refusing a non-Ed25519 client certificate", remote_);
      refused_ = true;
      return false;
    }
    if (!member(*key)) {
      if (!refused_) {
        spdlog::warn("http: {}: refusing client certificate {}: not a member", remote_,
                     key->short_id());
      }
      refused_ = true;
      return false;
    }
    return true;
  }

  // One request/response exchange. Returns whether the connection may carry another.
  asio::awaitable<bool> serve_one() {
    // Wait for the first byte: the idle timeout between keep-alive requests, the header
    // timeout for a connection's first request.
    if (buffer_.size() == 0) {
      raw().expires_after(
          milliseconds(first_ ? limits().header_timeout_ms : limits().idle_timeout_ms));
      auto [ec, n] = co_await transport_.async_read_some(
          buffer_.prepare(std::min(kReadChunk, buffer_.max_size())), use_tuple);
      if (ec) {
        if (ec != asio::error::eof) spdlog::debug("http: {}: {}", remote_, ec.message());
        co_return false;
      }
      buffer_.commit(n);
    }

    head_ = false;
    version_ = 11;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
        limits().max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    // The route's max_body applies once the route is known (413 below). Beast's default (1 MiB)
    // would otherwise refuse a larger Content-Length while reading the header.
    parser_->body_limit(boost::none);
    raw().expires_after(milliseconds(limits().header_timeout_ms));
    {
      auto [ec, n] = co_await bhttp::async_read_header(transport_, buffer_, *parser_, use_tuple);
      if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
        spdlog::info("http: {}: request header over {} bytes", remote_, limits().max_header_bytes);
        co_await write_response(Response::text(431, "request header too large\n"), false, false);
        co_return false;
      }
      if (ec && is_parse_error(ec) && ec != bhttp::error::end_of_stream &&
          ec != bhttp::error::partial_message) {
        spdlog::info("http: {}: malformed request: {}", remote_, ec.message());
        co_await write_response(Response::text(400, "malformed request\n"), false, false);
        co_return false;
      }
      if (ec) {
        spdlog::debug("http: {}: reading the request header: {}", remote_, ec.message());
        co_return false;
      }
    }

    auto& msg = parser_->get();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& field : msg) {
      req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    req.remote = remote_;
    req.loopback = loopback_;
    req.tls = transport_.tls() != nullptr;
    req.peer = peer_;
    version_ = msg.version();
    head_ = req.method == "HEAD";
    keep_alive_ = parser_->keep_alive();
    // Error answers given before the body was read must close: the body is still on the wire.
    const bool body_pending = !parser_->is_done();
    const bool after_error = keep_alive_ && !body_pending;

    const bool is_member = peer_.has_value();
    const bool is_local = !is_member && loopback_ && limits().trust_loopback;
    // Anyone else may only reach Access::open routes. The route is looked up first, but every
    // refusal looks the same (403), so a stranger learns nothing about the route table.
    const bool stranger = !is_member && !is_local;
    auto refuse_stranger = [&]() -> asio::awaitable<bool> {
      spdlog::info("http: refusing {} {} from {} ({}): a member certificate is required",
                   req.method, req.path, remote_, req.tls ? "TLS, no certificate" : "plain HTTP");
      co_await write_response(Response::text(403, std::string(kMemberRequired)), false, true);
      co_return false;
    };
    if (req.path.empty() || req.path.front() != '/' || has_dot_segment(req.path)) {
      if (stranger) co_return co_await refuse_stranger();
      co_return co_await write_response(Response::text(400, "bad request target\n"), after_error,
                                        !body_pending);
    }

    if (beast::websocket::is_upgrade(parser_->get())) {
      if (auto ws_handler = state_->router->find_websocket(req.path)) {
        if (!is_member) co_return co_await refuse_stranger();
        if (body_pending) {
          co_await write_response(Response::text(400, "an upgrade request has no body\n"), false,
                                  false);
          co_return false;
        }
        // From here on the connection belongs to the link, which keeps this session (and so
        // the transport, and its place in stop()'s registry) alive. WebSocket timeouts replace
        // the socket's.
        raw().expires_never();
        upgraded_ = true;
        detail::accept_websocket(shared_from_this(), transport_, parser_->release(), std::move(req),
                                 *peer_, remote_, std::move(ws_handler));
        parser_.reset();
        co_return false;
      }
    }

    auto found = state_->router->find(req.method, req.path);
    if (head_ && std::holds_alternative<Router::Miss>(found)) {
      // HEAD is GET without the body, unless a route registered HEAD itself.
      // Not a streamed GET: its handler would produce a body nobody reads.
      auto as_get = state_->router->find("GET", req.path);
      if (auto* m = std::get_if<Router::Match>(&as_get); m && !m->stream) {
        found = std::move(as_get);
        req.method = "GET";
      }
    }
    if (stranger) {
      auto* m = std::get_if<Router::Match>(&found);
      if (!m || m->options.access != Access::open) co_return co_await refuse_stranger();
    }
    if (auto* miss = std::get_if<Router::Miss>(&found)) {
      auto r = *miss == Router::Miss::not_found ? Response::text(404, "not found\n")
                                                : Response::text(405, "method not allowed\n");
      co_return co_await write_response(std::move(r), after_error, !body_pending);
    }
    auto match = std::get<Router::Match>(std::move(found));
    if (match.options.access == Access::local && !is_local) {
      spdlog::info("http: refusing {} {} from member {}: local clients only", req.method, req.path,
                   peer_->short_id());
      co_return co_await write_response(
          Response::text(403, "this resource is for local clients only\n"), after_error,
          !body_pending);
    }

    if (body_pending) {
      const std::size_t max_body = match.options.max_body;
      if (auto len = parser_->content_length(); len && *len > max_body) {
        spdlog::info("http: {}: {} {} body of {} bytes over the limit of {}", remote_, req.method,
                     req.path, *len, max_body);
        co_await write_response(Response::text(413, "request body too large\n"), false, false);
        co_return false;
      }
      // A streamed route wants the body too (or answers without it and closes), so it gets the
      // 100 Continue up front as well.
      if (version_ >= 11 && beast::iequals(req.header("Expect"), "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        raw().expires_after(milliseconds(limits().body_timeout_ms));
        auto [ec, n] = co_await asio::async_write(
            transport_, asio::buffer(kContinue.data(), kContinue.size()), use_tuple);
        if (ec) co_return false;
      }
    }
    if (match.stream) {
      co_return co_await serve_stream(std::move(req), std::move(match.stream),
                                      match.options.max_body);
    }
    if (body_pending) {
      const std::size_t max_body = match.options.max_body;
      parser_->body_limit(max_body);
      raw().expires_after(milliseconds(limits().body_timeout_ms));
      auto [ec, n] = co_await bhttp::async_read(transport_, buffer_, *parser_, use_tuple);
      if (ec == bhttp::error::body_limit) {
        spdlog::info("http: {}: {} {} body over the limit of {}", remote_, req.method, req.path,
                     max_body);
        co_await write_response(Response::text(413, "request body too large\n"), false, false);
        co_return false;
      }
      if (ec && is_parse_error(ec) && ec != bhttp::error::end_of_stream &&
          ec != bhttp::error::partial_message) {
        spdlog::info("http: {}: malformed request body: {}", remote_, ec.message());
        co_await write_response(Response::text(400, "malformed request body\n"), false, false);
        co_return false;
      }
      if (ec) {
        spdlog::debug("http: {}: reading the request body: {}", remote_, ec.message());
        co_return false;
      }
      req.body = std::move(parser_->get().body());
    }
    parser_.reset();

    // The handler may take its time (or hand off to another thread); the connection only
    // waits for it, so no socket timeout applies meanwhile.
    raw().expires_never();
    ++seq_;
    reply_.reset();
    {
      auto slot = std::make_shared<ReplySlot>(weak_from_this(), strand_, seq_);
      Responder responder = [slot](Response r) { slot->answer(std::move(r)); };
      try {
        match.handler(std::move(req), std::move(responder));
      } catch (const std::exception& e) {
        spdlog::error("http: handler failed: {}", e.what());
        slot->answer(Response::text(500, "internal error\n"));
      } catch (...) {
        spdlog::error("http: handler failed with an unknown exception");
        slot->answer(Response::text(500, "internal error\n"));
      }
    }
    while (!reply_ && !closing_) {
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(use_tuple);
    }
    if (closing_) co_return false;
    Response r = std::move(*reply_);
    reply_.reset();
    co_return co_await write_response(std::move(r), keep_alive_, true);
  }

  // Writes `r`; returns whether the connection stays open. `clean` says whether the request
  // was fully read (otherwise finish() drains before closing). `sent` tells a write error from
  // a response that just closes.
  asio::awaitable<bool> write_response(Response r, bool keep_alive, bool clean,
                                       bool* sent = nullptr) {
    if (!clean) must_drain_ = true;
    if (r.status < 100 || r.status > 999 || r.status == 101) {
      spdlog::error("http: handler answered with invalid status {}", r.status);
      r = Response::text(500, "internal error\n");
    }
    bhttp::response<bhttp::string_body> res;
    res.version(version_ == 10 ? 10 : 11);
    res.result(r.status);
    copy_headers(r.headers, res, keep_alive);
    res.set(bhttp::field::server, "mesh");
    const std::size_t length = r.body.size();
    res.body() = std::move(r.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (head_) {
      res.body().clear();
      if (r.status >= 200 && r.status != 204 && r.status != 304) res.content_length(length);
    }
    raw().expires_after(milliseconds(limits().body_timeout_ms));
    auto [ec, n] = co_await bhttp::async_write(transport_, res, use_tuple);
    if (sent) *sent = !ec;
    if (ec) {
      spdlog::debug("http: {}: writing the response: {}", remote_, ec.message());
      co_return false;
    }
    co_return keep_alive && !res.need_eof();
  }

  // A streamed exchange (Router::try_add_stream): the handler gets the header and an Exchange,
  // and worker threads move the body through StreamSlot's operations (stream_* below) while
  // this coroutine waits for the exchange to end. Returns whether the connection may carry
  // another request.
  asio::awaitable<bool> serve_stream(Request req, StreamHandler handler, std::size_t max_body) {
    // Each read and write sets its own timeout; waiting for the workers has none.
    raw().expires_never();
    ++seq_;
    stream_.emplace();
    auto& st = *stream_;
    st.seq = seq_;
    st.io = std::make_unique<detail::BodyStream>(std::move(*parser_), max_body);
    parser_.reset();
    {
      auto slot = std::make_shared<StreamSlot>(weak_from_this(), strand_, seq_);
      try {
        handler(std::move(req), std::move(slot));
      } catch (const std::exception& e) {
        spdlog::error("http: stream handler failed: {}", e.what());
        st.abandoned = true;  // a 500, and any copy it kept gets Errc::state
      } catch (...) {
        spdlog::error("http: stream handler failed with an unknown exception");
        st.abandoned = true;
      }
    }
    // Until the response is over (or abandoned) and no operation is on the wire. A broken-off
    // response closes the socket at once, which also ends a read still waiting for the client.
    bool broken = false;
    for (;;) {
      if (st.ended && !st.clean && !broken && !closing_) {
        transport_.close();
        broken = true;
      }
      if ((closing_ || st.ended || st.abandoned) && !st.reading && !st.writing) break;
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(use_tuple);
    }
    st.over = true;
    const bool body_done = !st.body_error && st.io->body_done();
    bool keep = false;
    if (closing_ || broken) {
      keep = false;
    } else if (!st.ended) {
      // Abandoned before anything was sent: like a dropped Responder, unless the body already
      // told what went wrong.
      Response r = Response::text(500, "the handler did not answer\n");
      if (st.body_error && st.body_error->code == Errc::limit) {
        r = Response::text(413, "request body too large\n");
      } else if (st.body_error && st.body_error->code == Errc::invalid) {
        r = Response::text(400, "malformed request body\n");
      }
      keep = co_await write_response(std::move(r), keep_alive_ && body_done, body_done);
    } else if (!body_done) {
      must_drain_ = true;  // the rest of the body is still coming: close after draining
    } else {
      keep = st.keep_alive;
    }
    stream_.reset();
    co_return keep;
  }

  // Why an operation of request `seq` cannot run (on the strand).
  std::optional<Error> refused(std::uint64_t seq) const {
    if (closing_) return make_error(Errc::io, "the connection was closed");
    if (!stream_ || stream_->seq != seq || stream_->over) {
      return make_error(Errc::state, "the exchange is over");
    }
    return std::nullopt;
  }

  asio::awaitable<ReadOutcome> stream_read(std::uint64_t seq, char* out, std::size_t cap) {
    if (auto e = refused(seq)) co_return *e;
    auto& st = *stream_;
    if (st.body_error) co_return *st.body_error;
    if (st.io->body_done()) co_return ReadOutcome(0, true);
    if (cap == 0) co_return make_error(Errc::invalid, "read() needs room for at least one byte");
    st.reading = true;
    raw().expires_after(milliseconds(limits().body_timeout_ms));
    auto [ec, n] = co_await st.io->read(transport_, buffer_, out, cap);
    st.reading = false;
    wake_.cancel();
    if (!ec) co_return ReadOutcome(n, st.io->body_done());
    Error err;
    if (ec == bhttp::error::body_limit) {
      spdlog::info("http: {}: streamed request body over the limit", remote_);
      err = make_error(Errc::limit, "the request body is over the route's limit");
    } else if (closing_) {
      err = make_error(Errc::io, "the connection was closed");
    } else if (ec == beast::error::timeout) {
      err = make_error(Errc::io, "timed out reading the request body");
    } else if (is_parse_error(ec) && ec != bhttp::error::end_of_stream &&
               ec != bhttp::error::partial_message) {
      spdlog::info("http: {}: malformed request body: {}", remote_, ec.message());
      err = make_error(Errc::invalid, "malformed request body: " + ec.message());
    } else {
      err = make_error(Errc::io, "the client went away: " + ec.message());
    }
    st.body_error = err;
    co_return err;
  }

  asio::awaitable<Status> stream_begin(std::uint64_t seq, unsigned status,
                                       std::vector<std::pair<std::string, std::string>> headers) {
    if (auto e = refused(seq)) co_return *e;
    auto& st = *stream_;
    if (st.begun) co_return make_error(Errc::state, "the response has already begun");
    if (status < 200 || status > 999) {
      co_return make_error(Errc::invalid, "invalid status " + std::to_string(status));
    }
    bhttp::response_header<> h;
    h.version(version_ == 10 ? 10 : 11);
    h.result(status);
    bool keep_alive = keep_alive_;
    copy_headers(headers, h, keep_alive);
    h.set(bhttp::field::server, "mesh");
    st.begun = true;
    st.writing = true;
    raw().expires_after(milliseconds(limits().body_timeout_ms));
    auto ec = co_await st.io->begin(transport_, std::move(h), keep_alive, head_);
    st.writing = false;
    wake_.cancel();
    if (ec) {
      spdlog::debug("http: {}: writing a streamed response header: {}", remote_, ec.message());
      st.ended = true;
      co_return make_error(Errc::io, "the client went away: " + ec.message());
    }
    st.keep_alive = keep_alive && !st.io->need_eof();
    co_return Status();
  }

  asio::awaitable<Status> stream_write(std::uint64_t seq, std::string_view data) {
    if (auto e = refused(seq)) co_return *e;
    auto& st = *stream_;
    if (!st.begun) co_return make_error(Errc::state, "write() before begin()");
    if (st.ended) co_return make_error(Errc::state, "the response has ended");
    if (data.empty()) co_return Status();
    st.writing = true;
    raw().expires_after(milliseconds(limits().body_timeout_ms));
    auto ec = co_await st.io->write(transport_, data);
    st.writing = false;
    wake_.cancel();
    if (ec) {
      spdlog::debug("http: {}: writing a streamed response: {}", remote_, ec.message());
      st.ended = true;
      co_return make_error(Errc::io, "the client went away: " + ec.message());
    }
    co_return Status();
  }

  asio::awaitable<Status> stream_end(std::uint64_t seq, bool ok) {
    if (auto e = refused(seq)) co_return *e;
    auto& st = *stream_;
    if (st.ended) co_return make_error(Errc::state, "the response has already ended");
    if (!ok) {
      st.begun = true;
      st.ended = true;  // not clean: serve_stream closes the connection
      wake_.cancel();
      co_return Status();
    }
    if (!st.begun) {
      auto sent = co_await stream_answer(st, Response::text(500, "the handler did not answer\n"));
      if (!sent) co_return sent;
      co_return make_error(Errc::state, "end() without begin(): answered 500");
    }
    st.writing = true;
    raw().expires_after(milliseconds(limits().body_timeout_ms));
    auto ec = co_await st.io->end(transport_);
    st.writing = false;
    st.ended = true;
    st.clean = !ec;
    wake_.cancel();
    if (ec) {
      spdlog::debug("http: {}: ending a streamed response: {}", remote_, ec.message());
      co_return make_error(Errc::io, "the client went away: " + ec.message());
    }
    co_return Status();
  }

  asio::awaitable<Status> stream_respond(std::uint64_t seq, Response r) {
    if (auto e = refused(seq)) co_return *e;
    auto& st = *stream_;
    if (st.begun) co_return make_error(Errc::state, "the response has already begun");
    co_return co_await stream_answer(st, std::move(r));
  }

  // A whole response, written like every other (write_response).
  asio::awaitable<Status> stream_answer(StreamState& st, Response r) {
    st.begun = true;
    st.writing = true;
    // Announce keep-alive only if the body is (or may yet be) read to its end.
    const bool may_keep = keep_alive_ && (st.io->body_done() || st.reading);
    bool sent = false;
    st.keep_alive = co_await write_response(std::move(r), may_keep, true, &sent);
    st.writing = false;
    st.ended = true;
    st.clean = sent;
    wake_.cancel();
    if (!sent) co_return make_error(Errc::io, "the client went away");
    co_return Status();
  }

  // Half-closes and, after an error answer, drains briefly so the client can read it.
  asio::awaitable<void> finish() {
    error_code ec;
    raw().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (must_drain_ && !ec && !closing_) {
      std::array<char, 4096> scratch;
      raw().expires_after(kDrainTime);
      for (std::size_t drained = 0; drained < kMaxDrainBytes;) {
        auto [rec, n] = co_await raw().async_read_some(asio::buffer(scratch), use_tuple);
        if (rec) break;
        drained += n;
      }
    }
    raw().close();
  }

  std::shared_ptr<State> state_;
  std::uint64_t id_;
  asio::any_io_executor strand_;
  Transport transport_;
  asio::steady_timer wake_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string remote_;
  bool loopback_ = false;
  std::optional<identity::PublicKey> peer_;
  bool refused_ = false;
  bool closing_ = false;
  bool first_ = true;
  bool must_drain_ = false;
  bool upgraded_ = false;  // the connection now belongs to a WebSocket link
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
  std::uint64_t seq_ = 0;
  std::optional<Response> reply_;

  std::optional<StreamState> stream_;  // the streamed exchange in progress
  // Guards shut_, which close() sets before it posts, so that spawn() never posts after it.
  std::mutex post_mu_;
  bool shut_ = false;
};

void ReplySlot::answer(Response r) {
  if (answered_.exchange(true)) return;
  // A dead connection drops the answer; a live one gets it on its own strand.
  if (auto s = session_.lock()) {
    asio::post(strand_, [weak = session_, seq = seq_, r = std::move(r)]() mutable {
      if (auto s = weak.lock()) s->deliver(seq, std::move(r));
    });
  }
}

StreamSlot::~StreamSlot() {
  if (session_.expired()) return;
  asio::post(strand_, [weak = session_, seq = seq_] {
    if (auto s = weak.lock()) s->stream_abandoned(seq);
  });
}

bool StreamSlot::on_strand() const {
  const auto* strand = strand_.target<asio::strand<asio::io_context::executor_type>>();
  return strand && strand->running_in_this_thread();
}

template <class R, class MakeOp>
R StreamSlot::call(std::atomic<bool>& busy, std::string_view what, MakeOp make_op) {
  // Waiting on the strand for work queued behind us on the same strand would never return.
  if (on_strand()) {
    return R(make_error(Errc::state, "Exchange calls block: make them from a thread of your own"));
  }
  if (busy.exchange(true)) {
    return R(make_error(Errc::state, "another " + std::string(what) + " is in progress"));
  }
  struct Idle {
    std::atomic<bool>& busy;
    ~Idle() { busy = false; }
  } idle{busy};
  auto session = session_.lock();
  if (!session) return R(make_error(Errc::io, "the connection is gone"));
  std::promise<R> promise;
  auto future = promise.get_future();
  if (!session->spawn(make_op(session, std::move(promise)))) {
    return R(make_error(Errc::io, "the connection was closed"));
  }
  session.reset();  // the operation holds it while it runs; we must not keep it alive
  try {
    return future.get();
  } catch (const std::future_error&) {
    return R(make_error(Errc::io, "the connection is gone"));
  }
}

Result<std::size_t> StreamSlot::read(char* buf, std::size_t cap) {
  if (eof_) return std::size_t{0};
  auto r = call<ReadOutcome>(reading_, "read", [&](std::shared_ptr<Session> s, auto promise) {
    return Session::op_read(std::move(s), seq_, buf, cap, std::move(promise));
  });
  if (r.body_done) eof_ = true;
  return std::move(r.n);
}

Error finished_error() {
  return make_error(Errc::state, "the response has ended");
}

Status StreamSlot::begin(unsigned status,
                         std::vector<std::pair<std::string, std::string>> headers) {
  if (finished_) return finished_error();
  return call<Status>(writing_, "write", [&](std::shared_ptr<Session> s, auto promise) {
    return Session::op_begin(std::move(s), seq_, status, std::move(headers), std::move(promise));
  });
}

Status StreamSlot::write(std::string_view data) {
  if (finished_) return finished_error();
  if (data.empty()) return {};
  return call<Status>(writing_, "write", [&](std::shared_ptr<Session> s, auto promise) {
    return Session::op_write(std::move(s), seq_, data, std::move(promise));
  });
}

Status StreamSlot::end(bool ok) {
  if (finished_) return finished_error();
  return call<Status>(writing_, "write", [&](std::shared_ptr<Session> s, auto promise) {
    finished_ = true;
    return Session::op_end(std::move(s), seq_, ok, std::move(promise));
  });
}

Status StreamSlot::respond(Response r) {
  if (finished_) return finished_error();
  return call<Status>(writing_, "write", [&](std::shared_ptr<Session> s, auto promise) {
    finished_ = true;
    return Session::op_respond(std::move(s), seq_, std::move(r), std::move(promise));
  });
}

asio::awaitable<void> accept_loop(std::shared_ptr<State> st) {
  asio::steady_timer backoff(st->acceptor.get_executor());
  const std::uint32_t max_conn = std::max<std::uint32_t>(st->options.limits.max_connections, 1);
  std::optional<std::chrono::steady_clock::time_point> last_full_log;
  while (!st->stopped) {
    auto [ec, socket] = co_await st->acceptor.async_accept(asio::make_strand(st->io), use_tuple);
    if (st->stopped || ec == asio::error::operation_aborted) break;
    if (ec) {
      // E.g. out of file descriptors: don't spin.
      spdlog::warn("http: accept failed: {}", ec.message());
      backoff.expires_after(milliseconds(100));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    error_code rec;
    auto remote = socket.remote_endpoint(rec);
    if (rec) continue;
    if (st->connections.load() >= max_conn) {
      // Logged at most every 10 s: a flood must not turn into a flood of log lines.
      auto now = std::chrono::steady_clock::now();
      if (!last_full_log || now - *last_full_log > std::chrono::seconds(10)) {
        last_full_log = now;
        spdlog::warn(
            "http: refusing connections (first from {}): {} open, the max_connections limit",
            format_endpoint(remote), st->connections.load());
      } else {
        spdlog::debug("http: refusing a connection from {}: max_connections",
                      format_endpoint(remote));
      }
      socket.close(rec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), rec);
    std::shared_ptr<Session> session;
    {
      // stop() sets `stopped` before it walks the registry under this lock, so a session
      // registered here is either seen by stop() or never started.
      std::lock_guard lock(st->mu);
      if (st->stopped) break;
      st->connections.fetch_add(1);
      auto id = st->next_session++;
      session = std::make_shared<Session>(st, std::move(socket), remote, id);
      st->sessions.emplace(id, session);
    }
    session->start();
  }
}

Result<asio::ip::address> listen_address(asio::io_context& io, std::string_view host) {
  if (host.empty()) return asio::ip::address(asio::ip::address_v4::any());
  if (host == "localhost") return asio::ip::address(asio::ip::address_v4::loopback());
  std::string h(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  error_code ec;
  auto addr = asio::ip::make_address(h, ec);
  if (!ec) return addr;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(h, "", tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return make_error(Errc::invalid, "cannot resolve listen host '" + h + "'");
  }
  return results.begin()->endpoint().address();
}

class ServerImpl final : public Server {
 public:
  explicit ServerImpl(std::shared_ptr<State> state) : state_(std::move(state)) {}
  ~ServerImpl() override { stop(); }

  std::string local_address() const override { return state_->local; }
  std::uint16_t port() const override { return state_->port; }

  void stop() override {
    if (state_->stopped.exchange(true)) return;
    asio::post(state_->acceptor.get_executor(), [st = state_] {
      error_code ec;
      st->acceptor.close(ec);
    });
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(state_->mu);
      for (auto& [id, weak] : state_->sessions) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->close();
    spdlog::debug("http: stopped listening on {}", state_->local);
  }

 private:
  std::shared_ptr<State> state_;
};

Status setup_tls(asio::ssl::context& ctx, const identity::TlsMaterial& tls) {
  if (tls.cert_pem.empty() || tls.key_pem.empty()) {
    return make_error(Errc::invalid, "the HTTP server needs a TLS certificate and key");
  }
  SSL_CTX* native = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1) {
    return make_error(Errc::crypto, "cannot restrict TLS to version 1.3");
  }
  // Membership is checked on every handshake, so no resumption: a removed key must not come
  // back in on an old session ticket.
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(native, 0);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  error_code ec;
  ctx.use_certificate_chain(asio::buffer(tls.cert_pem), ec);
  if (ec) return make_error(Errc::crypto, "bad TLS certificate: " + ec.message());
  ctx.use_private_key(asio::buffer(tls.key_pem), asio::ssl::context::pem, ec);
  if (ec) return make_error(Errc::crypto, "bad TLS private key: " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    return make_error(Errc::crypto, "the TLS private key does not match the certificate");
  }
  // Ask for a client certificate without requiring one: loopback clients have none. A
  // certificate that is presented is judged by the per-connection callback.
  ctx.set_verify_mode(asio::ssl::verify_peer, ec);
  if (ec) return make_error(Errc::crypto, "cannot set the TLS verify mode: " + ec.message());
  return {};
}

}  // namespace

Result<std::unique_ptr<Server>> Server::start(boost::asio::io_context& io, ServerOptions options,
                                              std::shared_ptr<Router> router) {
  if (!router) return make_error(Errc::invalid, "the HTTP server needs a router");
  const std::string where = options.listen.host + ":" + std::to_string(options.listen.port);
  try {
    auto state = std::make_shared<State>(io, std::move(options), std::move(router));
    if (auto st = setup_tls(state->ssl, state->options.tls); !st) return st.error();

    auto addr = listen_address(io, state->options.listen.host);
    if (!addr)
      return make_error(addr.error().code,
                        "cannot listen on " + where + ": " + addr.error().message);
    tcp::endpoint ep(*addr, state->options.listen.port);
    auto& acc = state->acceptor;
    error_code ec;
    auto fail = [&](std::string_view step) -> Error {
      return make_error(Errc::io,
                        "cannot listen on " + where + ": " + std::string(step) + ec.message());
    };
    if (acc.open(ep.protocol(), ec); ec) return fail("");
    if (acc.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("");
    if (acc.bind(ep, ec); ec) return fail("");
    if (acc.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("");
    auto bound = acc.local_endpoint(ec);
    if (ec) return fail("");
    state->local = format_endpoint(bound);
    state->port = bound.port();

    asio::co_spawn(acc.get_executor(), accept_loop(state),
                   [](std::exception_ptr e) { log_exception("accept loop", e); });
    spdlog::info("http: listening on {} (TLS and plain HTTP)", state->local);
    return std::unique_ptr<Server>(std::make_unique<ServerImpl>(std::move(state)));
  } catch (const std::exception& e) {
    return make_error(Errc::internal, "cannot start the HTTP server on " + where + ": " + e.what());
  }
}

}  // namespace mesh::http
