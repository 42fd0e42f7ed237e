// The UDP side of LAN discovery: sockets, group joins, the beacon timer and the sightings table.
#include <ifaddrs.h>
#include <net/if.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include <spdlog/spdlog.h>

#include "mesh/discovery/discovery.hpp"
#include "mesh/discovery/send_plan.hpp"

namespace mesh::discovery {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxKeys = 256;
// Rate limits, applied before any signature check: a beacon costs one ed25519 verification.
// Per source IP generous enough for many daemons on one host (tests), global as a CPU cap.
constexpr int kPerSourcePerSecond = 32;
constexpr int kGlobalPerSecond = 512;
constexpr std::size_t kMaxSources = 1024;
// A receive loop that fails this many times in a row gives up instead of spinning.
constexpr int kMaxReceiveErrors = 100;

std::uint64_t wall_now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string format_address(asio::ip::address ip, std::uint16_t port) {
  if (ip.is_v6() && ip.to_v6().is_v4_mapped())
    ip = asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  if (ip.is_v4()) return ip.to_string() + ":" + std::to_string(port);
  return "[" + ip.to_string() + "]:" + std::to_string(port);
}

// Interfaces that are up and multicast-capable, as (name, IPv4 address or nullopt).
struct Iface {
  std::string name;
  std::optional<asio::ip::address_v4> v4;
  bool has_v6 = false;
};

std::vector<Iface> multicast_interfaces() {
  std::vector<Iface> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (auto* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_name == nullptr) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_MULTICAST) == 0) continue;
    auto family = i->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    if (family == AF_INET) {
      auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      out.push_back({i->ifa_name, asio::ip::address_v4(ntohl(sin->sin_addr.s_addr)), false});
    } else {
      out.push_back({i->ifa_name, std::nullopt, true});
    }
  }
  ::freeifaddrs(list);
  return out;
}

struct Rx {
  explicit Rx(asio::io_context& io, const char* fam) : sock(io), family(fam) {}
  udp::socket sock;
  std::array<std::uint8_t, kMaxDatagram + 1> buf{};  // one spare byte detects oversize
  udp::endpoint from;
  const char* family;
  int errors = 0;
};

struct Target {
  udp::endpoint ep;
  bool warned = false;
};

struct Entry {
  Sighting s;
  std::uint64_t wall_ms = 0;  // the newest accepted beacon's time: older or equal ones are replays
  Clock::time_point last;
};

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(asio::io_context& io, const identity::Identity& id, std::uint16_t tcp_port, Options opts,
       std::function<void(const Sighting&)> cb)
      : io_(io),
        strand_(asio::make_strand(io)),
        timer_(strand_),
        id_(&id),
        own_(id.public_key()),
        tcp_port_(tcp_port),
        opts_(std::move(opts)),
        cb_(std::move(cb)) {
    randombytes_buf(&instance_, sizeof(instance_));
  }

  Status open() {
    if (opts_.udp_port == 0) return make_error(Errc::invalid, "discovery: udp port must not be 0");
    if (opts_.interval.count() <= 0)
      return make_error(Errc::invalid, "discovery: interval must be positive");
    // Only addresses this node listens on may appear as a beacon's source.
    auto plan = plan_sending(opts_.listen, opts_, local_addresses());
    for (const auto& note : plan.notes) spdlog::info("discovery: {}", note);
    // Receiving stays as configured (a loopback-only node still hears LAN beacons of members
    // it can dial); only sending follows the plan.
    opts_.targets = plan.targets;

    std::optional<asio::ip::address_v4> if4;
    if (!opts_.multicast_if.empty()) {
      error_code ec;
      auto a = asio::ip::make_address_v4(opts_.multicast_if, ec);
      if (ec)
        return make_error(Errc::invalid,
                          "discovery: multicast_if is not an IPv4 address: " + opts_.multicast_if);
      if4 = a;
    }
    unsigned if6 = 0;
    if (!opts_.multicast_if6.empty()) {
      if6 = ::if_nametoindex(opts_.multicast_if6.c_str());
      if (if6 == 0)
        return make_error(Errc::invalid, "discovery: no such interface: " + opts_.multicast_if6);
    }
    std::vector<udp::endpoint> wanted;
    for (const auto& t : opts_.targets) {
      error_code ec;
      auto a = asio::ip::make_address(t, ec);
      if (ec) return make_error(Errc::invalid, "discovery: bad target address: " + t);
      if (a.is_v6() && a.to_v6().is_multicast_link_local() && if6 != 0) {
        auto v6 = a.to_v6();
        v6.scope_id(if6);
        a = v6;
      }
      wanted.emplace_back(a, opts_.udp_port);
    }

    auto ifaces = (if4 && if6) ? std::vector<Iface>{} : multicast_interfaces();
    open_v4(if4, ifaces);
    open_v6(if6, ifaces);
    if (!v4_ && !v6_)
      return make_error(Errc::io, "discovery: cannot bind UDP port " +
                                      std::to_string(opts_.udp_port) + " for IPv4 or IPv6");
    if (!plan.bind.empty()) {
      std::optional<asio::ip::address_v4> tx_if4;
      error_code ec;
      if (auto a = asio::ip::make_address_v4(plan.multicast_if, ec); !ec) tx_if4 = a;
      unsigned tx_if6 =
          plan.multicast_if6.empty() ? 0 : ::if_nametoindex(plan.multicast_if6.c_str());
      if (auto st = open_tx(plan.bind, tx_if4, tx_if6); !st) return st;
    }
    for (const auto& ep : wanted) {
      if (tx_) {
        // The plan kept only targets of the listen address's family.
        targets_.push_back({ep, false});
        continue;
      }
      if (ep.address().is_v4() ? !v4_ : !v6_) {
        spdlog::warn("discovery: not sending to {}: no {} socket", ep.address().to_string(),
                     ep.address().is_v4() ? "IPv4" : "IPv6");
        continue;
      }
      targets_.push_back({ep, false});
    }
    if (targets_.empty()) return make_error(Errc::io, "discovery: no usable target address");
    spdlog::info("discovery: UDP port {} (IPv4 {}, IPv6 {}), {} targets, every {} ms",
                 opts_.udp_port, v4_ ? "on" : "off", v6_ ? "on" : "off", targets_.size(),
                 opts_.interval.count());
    return {};
  }

  void begin() {
    asio::dispatch(strand_, [self = shared_from_this()] {
      if (self->stopped_) return;
      if (self->v4_) self->receive(*self->v4_);
      if (self->v6_) self->receive(*self->v6_);
      self->send_beacon();
      self->arm_timer();
    });
  }

  void announce() {
    if (stopped_) return;
    asio::post(strand_, [self = shared_from_this()] { self->send_beacon(); });
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    asio::dispatch(strand_, [self = shared_from_this()] {
      error_code ec;
      self->timer_.cancel();
      if (self->v4_) self->v4_->sock.close(ec);
      if (self->v6_) self->v6_->sock.close(ec);
      if (self->tx_) self->tx_->close(ec);
    });
  }

  std::vector<Sighting> nearby() const {
    auto cutoff = Clock::now() - 3 * opts_.interval;
    std::vector<Sighting> out;
    {
      std::lock_guard lock(mu_);
      for (const auto& [key, e] : table_)
        if (e.last >= cutoff) out.push_back(e.s);
    }
    std::sort(out.begin(), out.end(),
              [](const Sighting& a, const Sighting& b) { return a.seen_ms > b.seen_ms; });
    return out;
  }

 private:
  // Bind failures drop the family; join failures only lose multicast (broadcast still works).
  void open_v4(std::optional<asio::ip::address_v4> iface, const std::vector<Iface>& ifaces) {
    auto rx = std::make_unique<Rx>(io_, "IPv4");
    auto& s = rx->sock;
    error_code ec;
    s.open(udp::v4(), ec);
    if (!ec) s.set_option(udp::socket::reuse_address(true), ec);
    if (!ec) s.set_option(asio::socket_base::broadcast(true), ec);
    if (!ec) s.bind(udp::endpoint(asio::ip::address_v4::any(), opts_.udp_port), ec);
    if (ec) {
      spdlog::warn("discovery: IPv4 disabled: UDP port {}: {}", opts_.udp_port, ec.message());
      return;
    }
    s.set_option(asio::ip::multicast::enable_loopback(opts_.loopback), ec);
    if (ec) spdlog::warn("discovery: IPv4 multicast loopback: {}", ec.message());
    auto group = asio::ip::make_address_v4(kMulticastGroupV4);
    int joined = 0;
    auto join = [&](asio::ip::address_v4 at) {
      error_code e;
      s.set_option(asio::ip::multicast::join_group(group, at), e);
      if (e)
        spdlog::warn("discovery: join {} on {}: {}", kMulticastGroupV4, at.to_string(),
                     e.message());
      else
        ++joined;
    };
    if (iface) {
      join(*iface);
      s.set_option(asio::ip::multicast::outbound_interface(*iface), ec);
      if (ec)
        spdlog::warn("discovery: IPv4 multicast interface {}: {}", iface->to_string(),
                     ec.message());
    } else {
      for (const auto& i : ifaces)
        if (i.v4) join(*i.v4);
      if (joined == 0) join(asio::ip::address_v4::any());
    }
    v4_ = std::move(rx);
  }

  void open_v6(unsigned iface, const std::vector<Iface>& ifaces) {
    auto rx = std::make_unique<Rx>(io_, "IPv6");
    auto& s = rx->sock;
    error_code ec;
    s.open(udp::v6(), ec);
    // v6-only: IPv4 arrives on its own socket, so mapped addresses never appear here.
    if (!ec) s.set_option(asio::ip::v6_only(true), ec);
    if (!ec) s.set_option(udp::socket::reuse_address(true), ec);
    if (!ec) s.bind(udp::endpoint(asio::ip::address_v6::any(), opts_.udp_port), ec);
    if (ec) {
      spdlog::warn("discovery: IPv6 disabled: UDP port {}: {}", opts_.udp_port, ec.message());
      return;
    }
    s.set_option(asio::ip::multicast::enable_loopback(opts_.loopback), ec);
    if (ec) spdlog::warn("discovery: IPv6 multicast loopback: {}", ec.message());
    auto group = asio::ip::make_address_v6(kMulticastGroupV6);
    int joined = 0;
    auto join = [&](unsigned index) {
      error_code e;
      s.set_option(asio::ip::multicast::join_group(group, index), e);
      if (e)
        spdlog::warn("discovery: join {} on interface #{}: {}", kMulticastGroupV6, index,
                     e.message());
      else
        ++joined;
    };
    if (iface != 0) {
      join(iface);
      s.set_option(asio::ip::multicast::outbound_interface(iface), ec);
      if (ec) spdlog::warn("discovery: IPv6 multicast interface: {}", ec.message());
    } else {
      std::set<unsigned> seen;
      for (const auto& i : ifaces) {
        if (!i.has_v6) continue;
        auto index = ::if_nametoindex(i.name.c_str());
        if (index != 0 && seen.insert(index).second) join(index);
      }
      if (joined == 0) join(0);
    }
    v6_ = std::move(rx);
  }

  // A socket bound to the listen address, so that it is the source every beacon shows.
  Status open_tx(const std::string& bind, std::optional<asio::ip::address_v4> if4, unsigned if6) {
    error_code ec;
    auto addr = asio::ip::make_address(bind, ec);
    if (ec) return make_error(Errc::invalid, "discovery: bad listen address " + bind);
    auto tx = std::make_unique<udp::socket>(io_);
    tx->open(addr.is_v4() ? udp::v4() : udp::v6(), ec);
    if (!ec && addr.is_v6()) tx->set_option(asio::ip::v6_only(true), ec);
    if (!ec) tx->set_option(asio::socket_base::broadcast(true), ec);
    if (!ec) tx->bind(udp::endpoint(addr, 0), ec);
    if (ec)
      return make_error(Errc::io, "discovery: cannot send from " + bind + ": " + ec.message());
    tx->set_option(asio::ip::multicast::enable_loopback(opts_.loopback), ec);
    if (addr.is_v4() && if4) tx->set_option(asio::ip::multicast::outbound_interface(*if4), ec);
    if (addr.is_v6() && if6 != 0) tx->set_option(asio::ip::multicast::outbound_interface(if6), ec);
    if (ec) spdlog::warn("discovery: multicast interface for {}: {}", bind, ec.message());
    spdlog::info("discovery: beacons leave from {} (the listen address)", bind);
    tx_ = std::move(tx);
    return {};
  }

  void arm_timer() {
    timer_.expires_after(opts_.interval);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->stopped_) return;
      self->send_beacon();
      self->arm_timer();
    });
  }

  void send_beacon() {
    if (stopped_) return;
    // Strictly increasing per sender, so receivers can drop equal-or-older ones as replays.
    last_wall_ = std::max(wall_now_ms(), last_wall_ + 1);
    auto bytes =
        std::make_shared<Bytes>(encode_beacon(make_beacon(*id_, tcp_port_, instance_, last_wall_)));
    for (auto& t : targets_) {
      auto& sock = tx_ ? *tx_ : t.ep.address().is_v4() ? v4_->sock : v6_->sock;
      sock.async_send_to(
          asio::buffer(*bytes), t.ep,
          asio::bind_executor(strand_, [self = shared_from_this(), bytes, &t](error_code ec,
                                                                              std::size_t) {
            if (ec == asio::error::operation_aborted) return;
            // Warn once per target until it works again: an unreachable family (no IPv6 route)
            // would otherwise log every interval.
            if (ec && !t.warned) {
              spdlog::warn("discovery: send to {}: {}", t.ep.address().to_string(), ec.message());
              t.warned = true;
            } else if (ec) {
              spdlog::debug("discovery: send to {}: {}", t.ep.address().to_string(), ec.message());
            } else {
              t.warned = false;
            }
          }));
    }
  }

  void receive(Rx& rx) {
    rx.sock.async_receive_from(
        asio::buffer(rx.buf), rx.from,
        asio::bind_executor(
            strand_, [self = shared_from_this(), &rx](error_code ec, std::size_t n) {
              if (ec == asio::error::operation_aborted || self->stopped_) return;
              if (ec) {
                if (++rx.errors >= kMaxReceiveErrors) {
                  spdlog::error("discovery: {} receive keeps failing, giving up: {}", rx.family,
                                ec.message());
                  return;
                }
                spdlog::debug("discovery: {} receive: {}", rx.family, ec.message());
              } else {
                rx.errors = 0;
                self->on_datagram(std::span<const std::uint8_t>(rx.buf.data(), n), rx.from);
              }
              self->receive(rx);
            }));
  }

  bool admit(const asio::ip::address& from) {
    auto second = std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch());
    if (second != window_) {
      window_ = second;
      per_source_.clear();
      global_ = 0;
    }
    if (++global_ > kGlobalPerSecond) return false;
    auto it = per_source_.find(from);
    if (it == per_source_.end()) {
      if (per_source_.size() >= kMaxSources) return false;
      it = per_source_.emplace(from, 0).first;
    }
    return ++it->second <= kPerSourcePerSecond;
  }

  void on_datagram(std::span<const std::uint8_t> data, const udp::endpoint& from) {
    if (data.size() > kMaxDatagram) return;
    auto b = decode_beacon(data);
    if (!b || b->key == own_) return;
    auto now = Clock::now();
    {
      // Cheap replay/duplicate check before the signature: the same beacon arrives once per
      // path (broadcast, each group), and an equal or older time adds nothing.
      std::lock_guard lock(mu_);
      auto it = table_.find(b->key);
      if (it != table_.end() && b->wall_ms <= it->second.wall_ms &&
          now - it->second.last < 3 * opts_.interval)
        return;
    }
    // Only what would cost a signature verification counts against the rate limits.
    if (!admit(from.address())) return;
    auto wall = wall_now_ms();
    if (!verify_beacon(*b, wall)) return;
    Sighting s{b->key, format_address(from.address(), b->port), b->instance, wall};
    {
      std::lock_guard lock(mu_);
      auto cutoff = now - 3 * opts_.interval;
      std::erase_if(table_, [&](const auto& kv) { return kv.second.last < cutoff; });
      table_[b->key] = Entry{s, b->wall_ms, now};
      if (table_.size() > kMaxKeys) {
        // Evict the longest-silent key: live peers re-announce every interval and come back.
        auto oldest = std::min_element(
            table_.begin(), table_.end(),
            [](const auto& x, const auto& y) { return x.second.last < y.second.last; });
        table_.erase(oldest);
      }
    }
    spdlog::debug("discovery: {} at {} (instance {:016x})", s.key.short_id(), s.address,
                  s.instance);
    if (stopped_ || !cb_) return;
    try {
      cb_(s);
    } catch (const std::exception& e) {
      spdlog::error("discovery: sighting callback threw: {}", e.what());
    } catch (...) {
      spdlog::error("discovery: sighting callback threw");
    }
  }

  asio::io_context& io_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  const identity::Identity* id_;
  identity::PublicKey own_;
  std::uint16_t tcp_port_;
  Options opts_;
  std::function<void(const Sighting&)> cb_;
  std::uint64_t instance_ = 0;
  std::atomic<bool> stopped_{false};

  // Strand-only state.
  std::unique_ptr<Rx> v4_, v6_;
  std::unique_ptr<udp::socket> tx_;  // bound to the listen address, when it is a specific one
  std::vector<Target> targets_;
  std::uint64_t last_wall_ = 0;
  std::chrono::seconds window_{0};
  int global_ = 0;
  std::map<asio::ip::address, int> per_source_;

  mutable std::mutex mu_;  // table_: written on the strand, read by nearby() from anywhere
  std::map<identity::PublicKey, Entry> table_;
};

class Handle final : public Discovery {
 public:
  explicit Handle(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  ~Handle() override { core_->stop(); }
  void announce_now() override { core_->announce(); }
  std::vector<Sighting> nearby() const override { return core_->nearby(); }
  void stop() override { core_->stop(); }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace

Result<std::unique_ptr<Discovery>> Discovery::start(
    boost::asio::io_context& io, const identity::Identity& id, std::uint16_t tcp_port,
    Options options, std::function<void(const Sighting&)> on_sighting) {
  if (sodium_init() < 0) return make_error(Errc::crypto, "libsodium failed to initialise");
  if (tcp_port == 0) return make_error(Errc::invalid, "discovery: tcp port must not be 0");
  try {
    auto core =
        std::make_shared<Core>(io, id, tcp_port, std::move(options), std::move(on_sighting));
    if (auto st = core->open(); !st) return st.error();
    core->begin();
    return std::unique_ptr<Discovery>(std::make_unique<Handle>(std::move(core)));
  } catch (const std::exception& e) {
    return make_error(Errc::internal, std::string("discovery: ") + e.what());
  }
}

}  // namespace mesh::discovery
