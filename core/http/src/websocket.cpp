// Peer links: the only translation unit with websocket::stream, instantiated for one stream
// type (Transport&) that serves both the accepting and the dialling side.
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <exception>
#include <mutex>

#include "log_exception.hpp"
#include "transport.hpp"

namespace mesh::http {
namespace detail {
namespace {

namespace websocket = beast::websocket;

class WsLink final : public WsConnection, public std::enable_shared_from_this<WsLink> {
 public:
  WsLink(std::shared_ptr<void> owner, Transport& transport, identity::PublicKey peer,
         std::string remote, WsLimits limits)
      : owner_(std::move(owner)),
        ws_(transport),
        strand_(transport.get_executor()),
        peer_(peer),
        remote_(std::move(remote)),
        max_send_(limits.max_send_message),
        max_queue_(limits.max_queue_bytes) {
    ws_.binary(true);
    ws_.read_message_max(kMaxWsMessage);
    ws_.auto_fragment(false);
    // A 30 s handshake limit; a ping after 10 s of silence and a close after 20 s, on both
    // sides. Heartbeats cross every link every 5 s, so only a dead route is that quiet, and a
    // route that drops packets silently (no reset ever comes) must not pass for a link: the
    // engine would keep sending into it and call the member directly linked.
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = std::chrono::seconds(20);
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "mesh"); }));
  }

  websocket::stream<Transport&>& ws() { return ws_; }

  void start(OnMessage on_message, OnClose on_close) override {
    asio::post(strand_, [self = shared_from_this(), m = std::move(on_message),
                         c = std::move(on_close)]() mutable {
      if (self->started_) return;
      self->started_ = true;
      self->on_message_ = std::move(m);
      self->on_close_ = std::move(c);
      if (self->finished_) {
        self->notify_close();
        return;
      }
      asio::co_spawn(self->strand_, self->read_loop(), [self](std::exception_ptr e) {
        log_exception("link to " + self->remote_, e);
        if (e) self->finish("internal error");
      });
    });
  }

  bool send(std::string message) override {
    if (message.size() > max_send_) return false;
    {
      std::lock_guard lock(mu_);
      if (!open_ || queued_ + message.size() > max_queue_) return false;
      queued_ += message.size();
      queue_.push_back(std::move(message));
      if (writing_) return true;
      writing_ = true;
    }
    auto self = shared_from_this();
    asio::co_spawn(strand_, write_loop(), [self](std::exception_ptr e) {
      log_exception("writing to " + self->remote_, e);
      if (e) self->finish("internal error");
    });
    return true;
  }

  std::size_t queued_bytes() const override {
    std::lock_guard lock(mu_);
    return queued_;
  }

  void close() override {
    {
      std::lock_guard lock(mu_);
      if (!open_) return;
      open_ = false;
    }
    asio::post(strand_, [self = shared_from_this()] {
      if (self->close_started_ || self->finished_) return;
      self->close_started_ = true;
      asio::co_spawn(self->strand_, self->close_op(), [self](std::exception_ptr e) {
        log_exception("closing the link to " + self->remote_, e);
        if (e) self->finish("closed");
      });
    });
  }

  const identity::PublicKey& peer() const override { return peer_; }
  std::string remote() const override { return remote_; }

  // On the strand: the link is over. Runs on_close once (now, or at start()).
  void finish(std::string reason) {
    if (finished_) return;
    finished_ = true;
    {
      std::lock_guard lock(mu_);
      open_ = false;
      queue_.clear();
      queued_ = 0;
    }
    reason_ = std::move(reason);
    spdlog::debug("http: link {} ({}) closed: {}", remote_, peer_.short_id(), reason_);
    // Whatever ended the link, the socket goes now (a failed read may leave it open).
    beast::get_lowest_layer(ws_).close();
    if (started_) notify_close();
  }

 private:
  void notify_close() {
    auto cb = std::move(on_close_);
    on_message_ = nullptr;
    on_close_ = nullptr;
    if (!cb) return;
    try {
      cb(reason_);
    } catch (const std::exception& e) {
      spdlog::error("http: link on_close handler threw: {}", e.what());
    } catch (...) {
      spdlog::error("http: link on_close handler threw");
    }
  }

  std::string reason_for(const error_code& ec) const {
    if (ec == websocket::error::closed) {
      if (close_started_) return "closed locally";
      auto r = ws_.reason();
      std::string text = "closed by peer (code " + std::to_string(r.code);
      if (!r.reason.empty()) text += ": " + std::string(r.reason.c_str());
      return text + ")";
    }
    if (ec == websocket::error::message_too_big || ec == beast::http::error::body_limit) {
      return "message over the " + std::to_string(kMaxWsMessage) + " byte limit";
    }
    if (ec == beast::error::timeout) return "timed out (peer silent)";
    if (close_started_) return "closed locally";
    return "connection lost: " + ec.message();
  }

  asio::awaitable<void> read_loop() {
    beast::flat_buffer buffer;
    while (!finished_) {
      buffer.consume(buffer.size());
      auto [ec, n] = co_await ws_.async_read(buffer, use_tuple);
      if (ec) {
        finish(reason_for(ec));
        co_return;
      }
      if (finished_ || !on_message_) co_return;
      std::string message = beast::buffers_to_string(buffer.data());
      try {
        on_message_(std::move(message));
      } catch (const std::exception& e) {
        spdlog::error("http: link on_message handler threw: {}", e.what());
      } catch (...) {
        spdlog::error("http: link on_message handler threw");
      }
    }
  }

  asio::awaitable<void> write_loop() {
    for (;;) {
      std::string message;
      {
        std::lock_guard lock(mu_);
        if (queue_.empty() || !open_) {
          writing_ = false;
          co_return;
        }
        message = std::move(queue_.front());
        queue_.pop_front();
      }
      // The message counts against the cap until it is on the wire.
      auto [ec, n] = co_await ws_.async_write(asio::buffer(message), use_tuple);
      {
        std::lock_guard lock(mu_);
        queued_ -= std::min(queued_, message.size());
      }
      if (ec) {
        {
          std::lock_guard lock(mu_);
          writing_ = false;
        }
        finish(reason_for(ec));
        co_return;
      }
    }
  }

  asio::awaitable<void> close_op() {
    auto [ec] = co_await ws_.async_close(websocket::close_code::normal, use_tuple);
    // With a read loop running, the read ends with `closed` and reports it; without one (not
    // started), nobody else will.
    if (!started_ || ec) finish(ec ? reason_for(ec) : "closed locally");
  }

  std::shared_ptr<void> owner_;  // keeps the Transport alive; declared before ws_
  websocket::stream<Transport&> ws_;
  asio::any_io_executor strand_;
  identity::PublicKey peer_;
  std::string remote_;
  const std::size_t max_send_;
  const std::size_t max_queue_;

  // Strand state.
  bool started_ = false;
  bool finished_ = false;
  bool close_started_ = false;
  std::string reason_;
  OnMessage on_message_;
  OnClose on_close_;

  // Shared with send()/close() from any thread.
  mutable std::mutex mu_;
  bool open_ = true;
  bool writing_ = false;
  std::deque<std::string> queue_;
  std::size_t queued_ = 0;
};

asio::awaitable<void> accept_op(std::shared_ptr<WsLink> link, UpgradeRequest upgrade,
                                Request request, WsRouteHandler handler) {
  auto [ec] = co_await link->ws().async_accept(upgrade, use_tuple);
  if (ec) {
    spdlog::info("http: websocket upgrade from {} failed: {}", link->remote(), ec.message());
    link->finish("upgrade failed: " + ec.message());
    co_return;
  }
  spdlog::info("http: link from {} ({}) at {}", link->remote(), link->peer().short_id(),
               request.path);
  try {
    handler(request, link);
  } catch (const std::exception& e) {
    spdlog::error("http: websocket handler for {} threw: {}", request.path, e.what());
    link->close();
  } catch (...) {
    spdlog::error("http: websocket handler for {} threw", request.path);
    link->close();
  }
}

}  // namespace

void accept_websocket(std::shared_ptr<void> owner, Transport& transport, UpgradeRequest upgrade,
                      Request request, identity::PublicKey peer, std::string remote,
                      WsRouteHandler handler, WsLimits limits) {
  auto link =
      std::make_shared<WsLink>(std::move(owner), transport, peer, std::move(remote), limits);
  auto ex = transport.get_executor();
  asio::co_spawn(ex, accept_op(link, std::move(upgrade), std::move(request), std::move(handler)),
                 [link](std::exception_ptr e) {
                   log_exception("websocket upgrade from " + link->remote(), e);
                   if (e) link->finish("internal error");
                 });
}

asio::awaitable<Result<std::shared_ptr<WsConnection>>> websocket_handshake(
    std::shared_ptr<void> owner, Transport& transport, const DialOptions& options,
    std::string remote) {
  auto link = std::make_shared<WsLink>(std::move(owner), transport, options.expected,
                                       std::move(remote), options.limits);
  for (const auto& [name, value] : options.headers) {
    if (name.find_first_of(":\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      co_return make_error(Errc::invalid, "malformed websocket header '" + name + "'");
    }
  }
  link->ws().set_option(
      websocket::stream_base::decorator([headers = options.headers](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, "mesh");
        for (const auto& [name, value] : headers) req.set(name, value);
      }));
  std::string host = options.host;
  if (host.find(':') != std::string::npos && !host.starts_with('[')) host = "[" + host + "]";
  host += ":" + std::to_string(options.port);
  websocket::response_type res;
  auto [ec] = co_await link->ws().async_handshake(res, host, options.path, use_tuple);
  if (ec == websocket::error::upgrade_declined) {
    co_return make_error(Errc::denied,
                         "websocket upgrade refused: " + std::to_string(res.result_int()));
  }
  if (ec) co_return make_error(Errc::io, "websocket upgrade failed: " + ec.message());
  co_return std::shared_ptr<WsConnection>(std::move(link));
}

}  // namespace detail

}  // namespace mesh::http
