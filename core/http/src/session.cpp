// One connection's requests, one after the other: read the header, decide access
// (decide_access), find the route, read the body, run the handler, write the response. Streamed
// exchanges continue in stream_session.cpp; WebSocket upgrades are handed to websocket.cpp.
#include "session.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <limits>

#include "handshake.hpp"
#include "log_exception.hpp"
#include "mesh/http/access.hpp"
#include "mesh/http/url.hpp"

namespace mesh::http::detail {

namespace bhttp = beast::http;
using std::chrono::milliseconds;

namespace {

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

// application/x-www-form-urlencoded, with or without parameters (charset).
bool form_body(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto type = content_type.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return beast::iequals(type, "application/x-www-form-urlencoded");
}

bool clean_header_text(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
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

}  // namespace

bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

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

ReplySlot::~ReplySlot() {
  if (!answered_.load()) {
    try {
      answer(Response::text(500, "the handler did not answer\n"));
    } catch (...) {
    }
  }
}

void ReplySlot::answer(Response r) {
  if (answered_.exchange(true)) return;
  // A dead connection drops the answer; a live one gets it on its own strand.
  if (auto s = session_.lock()) {
    asio::post(strand_, [weak = session_, seq = seq_, r = std::move(r)]() mutable {
      if (auto s = weak.lock()) s->deliver(seq, std::move(r));
    });
  }
}

Session::Session(std::shared_ptr<State> state, tcp::socket socket, tcp::endpoint remote,
                 std::uint64_t id, Ticket ticket)
    : state_(std::move(state)),
      id_(id),
      ticket_(std::move(ticket)),
      strand_(socket.get_executor()),
      transport_(std::move(socket)),
      wake_(strand_),
      // Room for the header limit plus 64 KiB socket reads of streamed bodies.
      buffer_(std::max<std::size_t>(state_->options.limits.max_header_bytes, 1024) + 65536),
      remote_(format_endpoint(remote)),
      loopback_(is_loopback(remote.address())) {}

Session::~Session() {
  std::lock_guard lock(state_->mu);
  state_->sessions.erase(id_);
}

void Session::start() {
  asio::co_spawn(strand_, run(), [self = shared_from_this()](std::exception_ptr e) {
    log_exception("connection from " + self->remote_, e);
  });
}

void Session::close() {
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

void Session::deliver(std::uint64_t seq, Response r) {
  if (seq != seq_ || reply_) return;
  reply_ = std::move(r);
  wake_.cancel();
}

bool Session::spawn(asio::awaitable<void> op) {
  std::lock_guard lock(post_mu_);
  if (shut_) return false;
  asio::co_spawn(strand_, std::move(op),
                 [](std::exception_ptr e) { log_exception("a streamed exchange", e); });
  return true;
}

asio::awaitable<void> Session::run() {
  // An untrusted address gets a short time for its handshake and first request, so idle or
  // slow sockets cannot hold its slots for long.
  auto first = milliseconds(limits().header_timeout_ms);
  if (!ticket_.trusted()) {
    first = std::min(first, std::chrono::duration_cast<milliseconds>(
                                state_->options.capacity.stranger_deadline));
  }
  first_deadline_ = std::chrono::steady_clock::now() + first;
  raw().expires_at(first_deadline_);
  auto opened = co_await open_connection(transport_, buffer_, state_->ssl,
                                         state_->options.is_member, remote_);
  if (!opened.ok) co_return;
  peer_ = opened.member;
  // A member is authenticated from here on: its slot moves out of its address's stranger share.
  if (peer_) ticket_.opened(true);
  while (!closing_) {
    if (!co_await serve_one()) break;
    first_ = false;
  }
  if (!upgraded_) co_await finish();
}

asio::awaitable<bool> Session::serve_one() {
  // Wait for the first byte: the idle timeout between keep-alive requests, the header
  // timeout for a connection's first request.
  // A connection's first request: by first_deadline_ unless a member (or trusted) asks.
  const bool first_deadline = first_ && !peer_ && !ticket_.trusted();
  auto expire = [&](milliseconds after) {
    if (first_deadline) {
      raw().expires_at(std::min(first_deadline_, std::chrono::steady_clock::now() + after));
    } else {
      raw().expires_after(after);
    }
  };
  if (buffer_.size() == 0) {
    expire(milliseconds(first_ ? limits().header_timeout_ms : limits().idle_timeout_ms));
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
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(limits().max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  // The route's max_body applies once the route is known (413 below). Beast's default (1 MiB)
  // would otherwise refuse a larger Content-Length while reading the header.
  parser_->body_limit(boost::none);
  expire(milliseconds(limits().header_timeout_ms));
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

  ticket_.opened(false);  // no longer half-open
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

  AccessQuery query;
  query.client = classify_client(peer_.has_value(), loopback_, limits().trust_loopback);
  query.method = req.method;
  query.host = req.header("Host");
  query.origin = req.header("Origin");
  query.referer = req.header("Referer");
  query.port = state_->port;
  // A refusal: strangers are told nothing; a request refused for what it carries (Host, Origin,
  // CSRF) closes the connection; the others may go on.
  auto refuse = [&](AccessDecision d) -> asio::awaitable<bool> {
    const std::string body(d.body());
    switch (d.refusal) {
      case Refusal::member_required:
        spdlog::info("http: refusing {} {} from {} ({}): a member certificate is required",
                     req.method, req.path, remote_, req.tls ? "TLS, no certificate" : "plain HTTP");
        co_await write_response(Response::text(d.status(), body), false, true);
        co_return false;
      case Refusal::local_only:
        spdlog::info("http: refusing {} {} from member {}: local clients only", req.method,
                     req.path, peer_ ? peer_->short_id() : remote_);
        break;
      case Refusal::misdirected:
        spdlog::warn(
            "http: refusing {} {} from {}: Host '{}' does not name this machine (a web "
            "page reaching the node by DNS rebinding?)",
            req.method, req.path, remote_, query.host.substr(0, 100));
        co_await write_response(Response::text(d.status(), body), false, !body_pending);
        co_return false;
      case Refusal::cross_origin:
      case Refusal::csrf_origin:
      case Refusal::csrf_token:
        spdlog::warn("http: refusing {} {} from {} (Origin '{}', Referer '{}'): {}", req.method,
                     req.path, remote_, query.origin.substr(0, 100), query.referer.substr(0, 100),
                     body.substr(0, body.size() - 1));
        co_await write_response(Response::text(d.status(), body), false, !body_pending);
        co_return false;
      default:
        break;
    }
    co_return co_await write_response(Response::text(d.status(), body), after_error, !body_pending);
  };

  if (req.path.empty() || req.path.front() != '/' || has_dot_segment(req.path)) {
    query.target_ok = false;
    co_return co_await refuse(decide_access(query));
  }

  if (beast::websocket::is_upgrade(parser_->get())) {
    if (auto ws_handler = state_->router->find_websocket(req.path)) {
      query.websocket = true;
      if (auto d = decide_access(query); !d.allowed()) co_return co_await refuse(d);
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
      accept_websocket(shared_from_this(), transport_, parser_->release(), std::move(req), *peer_,
                       remote_, std::move(ws_handler), state_->options.ws_limits);
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
  query.method = req.method;  // HEAD may have become GET above
  // The UI's CSRF token: from the header, or else (buffered routes) from a form body, which is
  // then read first and judged again below.
  bool csrf_in_form = false;
  if (auto* m = std::get_if<Router::Match>(&found)) {
    query.route = m->options.access;
    if (m->options.access == Access::local && state_changing(req.method)) {
      auto header = req.header("X-Mesh-Csrf");
      if (!header.empty()) {
        query.csrf = check_csrf(state_->options.csrf_token, header);
      } else {
        csrf_in_form = !m->stream && body_pending && form_body(req.header("Content-Type"));
      }
    }
  }
  if (auto d = decide_access(query); !d.allowed()) {
    if (!(csrf_in_form && d.refusal == Refusal::csrf_token)) co_return co_await refuse(d);
  } else {
    csrf_in_form = false;
  }
  if (auto* miss = std::get_if<Router::Miss>(&found)) {
    auto r = *miss == Router::Miss::not_found ? Response::text(404, "not found\n")
             : *miss == Router::Miss::method_not_allowed
                 ? Response::text(405, "method not allowed\n")
                 : Response::text(400, "malformed percent-escape in the path\n");
    co_return co_await write_response(std::move(r), after_error, !body_pending);
  }
  auto match = std::get<Router::Match>(std::move(found));
  req.params = std::move(match.params);

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
  if (csrf_in_form) {
    auto form =
        parse_form(req.body, DecodeLimits{.max_bytes = req.body.size(), .max_params = 1024});
    std::optional<std::string> token;
    if (form) token = first_value(*form, "csrf");
    query.csrf = check_csrf(state_->options.csrf_token,
                            token ? std::optional<std::string_view>(*token) : std::nullopt);
    if (auto d = decide_access(query); !d.allowed()) co_return co_await refuse(d);
  }

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

asio::awaitable<bool> Session::write_response(Response r, bool keep_alive, bool clean, bool* sent) {
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

asio::awaitable<void> Session::finish() {
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

}  // namespace mesh::http::detail
