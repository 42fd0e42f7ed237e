// The listener: binds, accepts, and hands each connection to a Session (session.cpp). Every
// HTTP read and write goes through one stream type (Transport, transport.hpp) so that Beast's
// parser and serializer are instantiated only once (PLATFORM.md: Beast costs 10-20 s per
// translation unit, so each file instantiates as little as possible).
#include "mesh/http/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <vector>

#include "log_exception.hpp"
#include "server_state.hpp"
#include "session.hpp"
#include "tls_context.hpp"
#include "transport.hpp"

namespace mesh::http {
namespace {

using namespace detail;
using std::chrono::milliseconds;

bool is_loopback(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return a.is_loopback();
}

asio::awaitable<void> accept_loop(std::shared_ptr<State> st) {
  asio::steady_timer backoff(st->acceptor.get_executor());
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
    // The user's own tools (loopback, while trusted) are limited only by max_connections;
    // everyone else is a stranger until a member certificate says otherwise.
    const bool trusted = is_loopback(remote.address()) && st->options.limits.trust_loopback;
    auto admission =
        st->gate->admit(ConnectionGate::source_key(remote.address().to_string()), trusted);
    if (!admission.ticket) {
      if (!admission.report.empty()) {
        spdlog::warn("http: {}", admission.report);
      } else {
        spdlog::debug("http: refusing a connection from {}: {}", format_endpoint(remote),
                      admission.refusal);
      }
      // Accepted and closed at once: left in the backlog it would block good clients behind it.
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
      auto id = st->next_session++;
      session = std::make_shared<Session>(st, std::move(socket), remote, id,
                                          std::move(*admission.ticket));
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

}  // namespace

Result<std::unique_ptr<Server>> Server::start(boost::asio::io_context& io, ServerOptions options,
                                              std::shared_ptr<Router> router) {
  if (!router) return make_error(Errc::invalid, "the HTTP server needs a router");
  const std::string where = options.listen.host + ":" + std::to_string(options.listen.port);
  try {
    auto state = std::make_shared<State>(io, std::move(options), std::move(router));
    if (auto st = configure_server_tls(state->ssl, state->options.tls, state->options.local_tls);
        !st)
      return st.error();

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
