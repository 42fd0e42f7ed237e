#include "mesh/links/link_manager.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "mesh/config/config.hpp"

namespace mesh::links {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using identity::PublicKey;

namespace {

constexpr std::size_t kMaxHintsPerKey = 8;

struct Peer {
  std::shared_ptr<http::WsConnection> link;
  bool outbound = false;
  bool dialing = false;
  Clock::time_point next_attempt{};
  std::chrono::milliseconds backoff{0};
  std::string last_good;
  std::vector<std::string> hints;
  Clock::time_point last_rx{};  // last message on the current link
  // The link the engine was last told of (sync_engine), and whether it was told of one at all.
  std::weak_ptr<http::WsConnection> told;
  bool engine_linked = false;
};

// How long a stopping node waits for its goodbye to leave (a link that cannot write it in this
// time is slow or dead, and its peer will notice the missing heartbeats instead).
constexpr auto kGoodbyeDrain = std::chrono::milliseconds(1000);

// A link silent for this long is presumed dead (heartbeats flow every 5 s), so a fresh link
// from the same peer replaces it even if the pair rule would keep the old one.
constexpr auto kStaleLink = std::chrono::seconds(15);

class State : public std::enable_shared_from_this<State> {
 public:
  State(asio::io_context& io, gossip::Engine& engine, LinkManagerOptions options)
      : io_(io), engine_(engine), opts_(std::move(options)), timer_(io) {}

  void start() {
    schedule();
    refresh();
  }

  // A clean stop: the goodbye goes out on every link first (members then count this node down
  // at once), and the links get up to kGoodbyeDrain to write it before they close. Not on an
  // I/O thread: the daemon's main thread calls this.
  void stop() {
    std::vector<std::shared_ptr<http::WsConnection>> close;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      for (auto& [key, peer] : peers_) {
        if (peer.link) close.push_back(std::move(peer.link));
      }
      timer_.cancel();  // under mu_, as schedule() arms it (asio timers are not thread-safe)
    }
    if (!close.empty()) {
      engine_.goodbye();
      auto deadline = Clock::now() + kGoodbyeDrain;
      auto queued = [&] {
        for (const auto& l : close) {
          if (l->queued_bytes() > 0) return true;
        }
        return false;
      };
      while (queued() && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    for (auto& l : close) l->close();
  }

  void accept(std::shared_ptr<http::WsConnection> link) {
    if (!engine_.roster().is_member(link->peer())) {
      spdlog::info("links: refusing a link from non-member {}", link->peer().short_id());
      link->close();
      return;
    }
    PublicKey key = link->peer();  // read before the move: argument order is unspecified
    adopt(key, std::move(link), false);
  }

  void add_hint(const PublicKey& key, const std::string& address) {
    std::lock_guard lock(mu_);
    auto& hints = peers_[key].hints;
    if (std::find(hints.begin(), hints.end(), address) != hints.end()) return;
    hints.insert(hints.begin(), address);
    if (hints.size() > kMaxHintsPerKey) hints.pop_back();
    // A new address is worth trying now rather than at the end of a long backoff.
    peers_[key].next_attempt = Clock::now();
  }

  void refresh() {
    std::vector<std::shared_ptr<http::WsConnection>> close;
    std::vector<PublicKey> removed;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      for (auto& [key, peer] : peers_) {
        if (peer.link && !engine_.roster().is_member(key)) {
          spdlog::info("links: closing the link to removed member {}", key.short_id());
          close.push_back(std::move(peer.link));
          removed.push_back(key);
        }
      }
    }
    for (auto& l : close) l->close();
    for (const auto& key : removed) sync_engine(key);
    dial_due();
  }

  std::vector<LinkInfo> links() const {
    std::lock_guard lock(mu_);
    std::vector<LinkInfo> out;
    for (const auto& [key, peer] : peers_) {
      if (peer.link) out.push_back({key, peer.link->remote(), peer.outbound});
    }
    return out;
  }

 private:
  // Arms the tick under mu_: stop() cancels from the daemon's main thread while an I/O thread
  // re-arms here, and one asio timer must not be used from two threads at once (found by
  // ThreadSanitizer in the convergence test).
  void schedule() {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    timer_.expires_after(opts_.tick);
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      {
        std::lock_guard lock(self->mu_);
        if (self->stopped_) return;
      }
      self->engine_.tick();
      self->dial_due();
      self->schedule();
    });
  }

  // The addresses to try for a member: last good first, then configured, roster, hints.
  std::vector<std::string> addresses_for(const PublicKey& key, const Peer& peer) {
    std::vector<std::string> out;
    auto push = [&out](const std::string& a) {
      if (!a.empty() && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    };
    push(peer.last_good);
    if (opts_.configured_addresses) {
      for (const auto& a : opts_.configured_addresses(key)) push(a);
    }
    if (auto m = engine_.roster().find(key)) {
      for (const auto& a : m->addresses) {
        if (gossip::address_usable(*m, a, opts_.host_scope)) push(a);
      }
    }
    for (const auto& a : peer.hints) push(a);
    return out;
  }

  void dial_due() {
    std::vector<std::pair<PublicKey, std::vector<std::string>>> due;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      auto now = Clock::now();
      for (const auto& m : engine_.roster().members()) {
        if (m.key == opts_.self) continue;
        auto& peer = peers_[m.key];
        if (peer.link || peer.dialing || now < peer.next_attempt) continue;
        auto addrs = addresses_for(m.key, peer);
        if (addrs.empty()) continue;
        peer.dialing = true;
        due.emplace_back(m.key, std::move(addrs));
      }
    }
    for (auto& [key, addrs] : due) dial(key, std::make_shared<std::vector<std::string>>(addrs), 0);
  }

  void dial(PublicKey key, std::shared_ptr<std::vector<std::string>> addrs, std::size_t index) {
    if (index >= addrs->size()) {
      std::lock_guard lock(mu_);
      auto& peer = peers_[key];
      peer.dialing = false;
      auto next = peer.backoff.count() == 0 ? opts_.backoff_min
                                            : std::min(peer.backoff * 2, opts_.backoff_max);
      peer.backoff = next;
      // Jitter in [next/2, next] so restarted teams don't dial in lockstep.
      std::uniform_int_distribution<long> jitter(next.count() / 2, next.count());
      peer.next_attempt = Clock::now() + std::chrono::milliseconds(jitter(rng_));
      return;
    }
    auto hp = config::parse_host_port((*addrs)[index]);
    if (!hp) {
      dial(key, addrs, index + 1);
      return;
    }
    http::DialOptions d;
    d.host = hp->host;
    d.port = hp->port;
    d.tls = opts_.tls;
    d.expected = key;
    std::string address = (*addrs)[index];
    http::dial_websocket(io_, std::move(d),
                         [weak = weak_from_this(), key, addrs, index,
                          address](Result<std::shared_ptr<http::WsConnection>> r) {
                           auto self = weak.lock();
                           if (!self) {
                             if (r) (*r)->close();
                             return;
                           }
                           if (!r) {
                             spdlog::debug("links: dial {} at {}: {}", key.short_id(), address,
                                           r.error().message);
                             self->dial(key, addrs, index + 1);
                             return;
                           }
                           {
                             std::lock_guard lock(self->mu_);
                             auto& peer = self->peers_[key];
                             peer.dialing = false;
                             peer.last_good = address;
                             peer.backoff = std::chrono::milliseconds(0);
                           }
                           self->adopt(key, std::move(*r), true);
                         });
  }

  // Exactly one link per pair: when both sides dialled, both keep the link dialled by the
  // lower key, so the two ends agree without talking.
  void adopt(const PublicKey& key, std::shared_ptr<http::WsConnection> link, bool outbound) {
    std::shared_ptr<http::WsConnection> drop;
    {
      std::lock_guard lock(mu_);
      if (stopped_) {
        drop = link;
      } else {
        auto& peer = peers_[key];
        bool canonical = outbound == (opts_.self < key);
        bool stale = Clock::now() - peer.last_rx > kStaleLink;
        if (peer.link && !stale && (!canonical || peer.outbound == (opts_.self < key))) {
          drop = link;  // keep the existing link
        } else {
          drop = std::move(peer.link);
          peer.link = link;
          peer.outbound = outbound;
          peer.last_rx = Clock::now();
        }
      }
    }
    if (drop == link) {
      link->close();
      return;
    }
    if (drop) drop->close();
    spdlog::info("links: {} link to {} ({})", outbound ? "outbound" : "inbound", key.short_id(),
                 link->remote());
    std::weak_ptr<http::WsConnection> weak_link = link;
    link->start(
        [weak = weak_from_this(), key](std::string&& message) {
          auto self = weak.lock();
          if (!self) return;
          {
            std::lock_guard lock(self->mu_);
            self->peers_[key].last_rx = Clock::now();
          }
          self->engine_.on_message(key, message);
        },
        [weak = weak_from_this(), key, weak_link](const std::string& reason) {
          auto self = weak.lock();
          if (!self) return;
          bool current = false;
          {
            std::lock_guard lock(self->mu_);
            auto& peer = self->peers_[key];
            auto l = weak_link.lock();
            if (l && peer.link == l) {
              peer.link.reset();
              current = true;
              peer.next_attempt = Clock::now() + self->opts_.backoff_min;
            }
          }
          if (current) {
            spdlog::info("links: link to {} closed: {}", key.short_id(), reason);
            self->sync_engine(key);
          }
        });
    sync_engine(key);
  }

  // Tells the engine which link to key is current now, if that changed since it was last told.
  // Adopting and closing run on different I/O threads; when each told the engine of its own
  // link after leaving the lock, a replaced link's link_up could land after its replacement's,
  // and the engine sent on the closed link for good (the peer heard nothing from this node
  // while this node heard the peer fine: seen under a loaded ASan run). Here the calls are
  // made in the order the decisions were taken, and each reports the state as it is.
  void sync_engine(const PublicKey& key) {
    std::lock_guard order(engine_order_mu_);
    std::shared_ptr<http::WsConnection> current;
    {
      std::lock_guard lock(mu_);
      auto it = peers_.find(key);
      if (it == peers_.end()) return;
      Peer& peer = it->second;
      current = peer.link;
      if (current ? peer.told.lock() == current : !peer.engine_linked) return;
      peer.told = current;
      peer.engine_linked = current != nullptr;
    }
    if (!current) {
      engine_.link_down(key);
      return;
    }
    std::weak_ptr<http::WsConnection> weak_link = current;
    engine_.link_up(key, [weak_link](std::string message) {
      auto l = weak_link.lock();
      return l && l->send(std::move(message));
    });
  }

  asio::io_context& io_;
  gossip::Engine& engine_;
  LinkManagerOptions opts_;
  asio::steady_timer timer_;
  mutable std::mutex mu_;
  // Held across the engine's link_up/link_down (sync_engine); never taken under mu_.
  std::mutex engine_order_mu_;
  std::map<PublicKey, Peer> peers_;
  bool stopped_ = false;
  std::mt19937_64 rng_{std::random_device{}()};
};

class Manager final : public LinkManager {
 public:
  explicit Manager(std::shared_ptr<State> state) : state_(std::move(state)) {}
  ~Manager() override { state_->stop(); }
  void start() override { state_->start(); }
  void accept(std::shared_ptr<http::WsConnection> link) override {
    state_->accept(std::move(link));
  }
  void add_hint(const PublicKey& key, const std::string& address) override {
    state_->add_hint(key, address);
  }
  void refresh() override { state_->refresh(); }
  std::vector<LinkInfo> links() const override { return state_->links(); }
  void stop() override { state_->stop(); }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace

std::unique_ptr<LinkManager> LinkManager::create(asio::io_context& io, gossip::Engine& engine,
                                                 LinkManagerOptions options) {
  return std::make_unique<Manager>(std::make_shared<State>(io, engine, std::move(options)));
}

}  // namespace mesh::links
