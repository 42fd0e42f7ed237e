#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "mesh/discovery/discovery.hpp"
#include "mesh/discovery/send_plan.hpp"

using namespace mesh;
using namespace mesh::discovery;
using identity::Identity;
namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// A free UDP port: bind to 0 and read it back (fixed ports collide on shared machines).
std::uint16_t free_udp_port() {
  asio::io_context io;
  udp::socket s(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
  return s.local_endpoint().port();
}

Options loopback_options(std::uint16_t udp_port, std::vector<std::string> targets) {
  Options o;
  o.udp_port = udp_port;
  o.interval = std::chrono::milliseconds(60000);  // the tests drive rounds with announce_now()
  o.targets = std::move(targets);
  o.loopback = true;
  o.multicast_if = "127.0.0.1";
  return o;
}

struct Node {
  Identity id = Identity::generate();
  std::uint16_t tcp_port = 0;
  std::unique_ptr<Discovery> d;
  mutable std::mutex mu;
  std::vector<Sighting> seen;  // every callback

  int count(const identity::PublicKey& k) const {
    std::lock_guard lock(mu);
    return static_cast<int>(
        std::count_if(seen.begin(), seen.end(), [&](const Sighting& s) { return s.key == k; }));
  }
  std::optional<Sighting> nearby(const identity::PublicKey& k) const {
    for (auto& s : d->nearby())
      if (s.key == k) return s;
    return std::nullopt;
  }
};

class DiscoveryNet : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    // Stop, then let the io thread drain before the nodes (the callbacks' targets) go away.
    for (auto& n : nodes_)
      if (n->d) n->d->stop();
    guard_.reset();
    thread_.join();
    nodes_.clear();
  }

  Node& add(std::uint16_t udp_port, std::vector<std::string> targets,
            const std::function<void(Options&)>& tweak = {}) {
    auto n = std::make_unique<Node>();
    n->tcp_port = static_cast<std::uint16_t>(40000 + nodes_.size());
    auto* raw = n.get();
    auto options = loopback_options(udp_port, targets);
    if (tweak) tweak(options);
    auto r = Discovery::start(io_, n->id, n->tcp_port, options, [raw](const Sighting& s) {
      std::lock_guard lock(raw->mu);
      raw->seen.push_back(s);
    });
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    if (r) n->d = std::move(*r);
    nodes_.push_back(std::move(n));
    return *nodes_.back();
  }

  // Announces from every node until pred holds; bounded by rounds, not by asserting durations.
  bool eventually(const std::function<bool()>& pred) {
    for (int round = 0; round < 100; ++round) {
      if (pred()) return true;
      for (auto& n : nodes_)
        if (n->d) n->d->announce_now();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return pred();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  std::thread thread_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace

TEST(Beacon, RoundTrip) {
  auto id = Identity::generate();
  auto b = make_beacon(id, 7979, 0x0123456789abcdefULL, 1700000000123ULL);
  auto wire = encode_beacon(b);
  ASSERT_EQ(wire.size(), kBeaconSize);
  auto d = decode_beacon(wire);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->key, id.public_key());
  EXPECT_EQ(d->port, 7979);
  EXPECT_EQ(d->instance, 0x0123456789abcdefULL);
  EXPECT_EQ(d->wall_ms, 1700000000123ULL);
  EXPECT_EQ(d->sig, b.sig);
  EXPECT_TRUE(verify_beacon(*d, 1700000000123ULL));
  EXPECT_EQ(encode_beacon(*d), wire);
}

TEST(Beacon, RejectsTamperedGarbageTruncatedOversizeAndWrongMagic) {
  auto id = Identity::generate();
  auto now = now_ms();
  auto wire = encode_beacon(make_beacon(id, 7979, 42, now));
  ASSERT_TRUE(verify_beacon(*decode_beacon(wire), now));

  // Every single-bit flip anywhere is caught by decode or by the signature.
  for (std::size_t i = 0; i < wire.size(); ++i) {
    auto t = wire;
    t[i] ^= 0x04;
    auto d = decode_beacon(t);
    EXPECT_FALSE(d && verify_beacon(*d, now)) << "byte " << i;
  }
  EXPECT_FALSE(decode_beacon({}));
  EXPECT_FALSE(decode_beacon(std::span(wire).first(kBeaconSize - 1)));
  auto longer = wire;
  longer.push_back(0);
  EXPECT_FALSE(decode_beacon(longer));
  EXPECT_FALSE(decode_beacon(Bytes(600, 0xAB)));
  Bytes garbage(kBeaconSize);
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<std::uint8_t>(i * 37);
  EXPECT_FALSE(decode_beacon(garbage));

  auto magic = wire;
  magic[0] = 'X';
  EXPECT_FALSE(decode_beacon(magic));
  auto version = wire;
  version[4] = 2;
  EXPECT_FALSE(decode_beacon(version));
  auto port0 = encode_beacon(make_beacon(id, 0, 42, now));
  EXPECT_FALSE(decode_beacon(port0));

  // A valid signature under a different key than the one claimed.
  auto other = Identity::generate();
  auto swapped = *decode_beacon(wire);
  swapped.key = other.public_key();
  EXPECT_FALSE(verify_beacon(swapped, now));

  // Skew: 10 minutes either way is the limit.
  auto b = *decode_beacon(wire);
  EXPECT_TRUE(verify_beacon(b, now + 9 * 60 * 1000));
  EXPECT_TRUE(verify_beacon(b, now - 9 * 60 * 1000));
  EXPECT_FALSE(verify_beacon(b, now + 11 * 60 * 1000));
  EXPECT_FALSE(verify_beacon(b, now - 11 * 60 * 1000));
}

TEST(Discovery, RejectsBadOptions) {
  asio::io_context io;
  auto id = Identity::generate();
  auto port = free_udp_port();
  EXPECT_FALSE(Discovery::start(io, id, 1234, loopback_options(port, {"not-an-ip"}), {}));
  EXPECT_FALSE(Discovery::start(io, id, 1234, loopback_options(0, {"127.255.255.255"}), {}));
  EXPECT_FALSE(Discovery::start(io, id, 0, loopback_options(port, {"127.255.255.255"}), {}));
  auto o = loopback_options(port, {"127.255.255.255"});
  o.interval = std::chrono::milliseconds(0);
  EXPECT_FALSE(Discovery::start(io, id, 1234, o, {}));
  o = loopback_options(port, {"127.255.255.255"});
  o.multicast_if = "lo";
  EXPECT_FALSE(Discovery::start(io, id, 1234, o, {}));
}

// Multicast only, broadcast only, and both: every path must work on its own.
class DiscoveryPaths : public DiscoveryNet,
                       public ::testing::WithParamInterface<std::vector<std::string>> {};

TEST_P(DiscoveryPaths, NodesSeeEachOtherButNotThemselves) {
  auto port = free_udp_port();
  auto& a = add(port, GetParam());
  auto& b = add(port, GetParam());
  ASSERT_TRUE(a.d && b.d);

  ASSERT_TRUE(eventually([&] {
    return a.nearby(b.id.public_key()).has_value() && b.nearby(a.id.public_key()).has_value();
  }));
  auto seen_b = *a.nearby(b.id.public_key());
  EXPECT_EQ(seen_b.address, "127.0.0.1:" + std::to_string(b.tcp_port));
  EXPECT_NE(seen_b.seen_ms, 0u);
  EXPECT_EQ(b.nearby(a.id.public_key())->address, "127.0.0.1:" + std::to_string(a.tcp_port));
  EXPECT_GE(a.count(b.id.public_key()), 1);
  // Each node's own beacons loop back to it (IP_MULTICAST_LOOP, broadcast) and are ignored.
  EXPECT_FALSE(a.nearby(a.id.public_key()));
  EXPECT_FALSE(b.nearby(b.id.public_key()));
  EXPECT_EQ(a.count(a.id.public_key()), 0);
  EXPECT_EQ(a.d->nearby().size(), 1u);

  // A third node sees both, and both see it.
  auto& c = add(port, GetParam());
  ASSERT_TRUE(c.d);
  ASSERT_TRUE(eventually([&] {
    return c.d->nearby().size() == 2 && a.d->nearby().size() == 2 && b.d->nearby().size() == 2;
  }));
  EXPECT_EQ(c.nearby(a.id.public_key())->address, "127.0.0.1:" + std::to_string(a.tcp_port));
  EXPECT_EQ(c.nearby(b.id.public_key())->address, "127.0.0.1:" + std::to_string(b.tcp_port));
  EXPECT_FALSE(c.nearby(c.id.public_key()));

  // Instances are per start: a and b announced different random ones, stable across rounds.
  auto ia = c.nearby(a.id.public_key())->instance;
  EXPECT_NE(ia, c.nearby(b.id.public_key())->instance);
  EXPECT_EQ(b.nearby(a.id.public_key())->instance, ia);
}

INSTANTIATE_TEST_SUITE_P(Loopback, DiscoveryPaths,
                         ::testing::Values(std::vector<std::string>{"239.255.42.42"},
                                           std::vector<std::string>{"127.255.255.255"},
                                           std::vector<std::string>{"239.255.42.42",
                                                                    "127.255.255.255"}));

// Hand-made datagrams: only verified, fresh, new beacons become sightings, and the address is
// the observed source IP with the announced port.
TEST_F(DiscoveryNet, ReportsOnlyVerifiedFreshBeacons) {
  auto port = free_udp_port();
  auto& n = add(port, {"127.255.255.255"});
  ASSERT_TRUE(n.d);

  asio::io_context io;
  udp::socket tx(io, udp::endpoint(asio::ip::address_v4::loopback(), 0));
  tx.set_option(asio::socket_base::broadcast(true));
  udp::endpoint to(asio::ip::make_address_v4("127.255.255.255"), port);
  auto send = [&](const Bytes& b) { tx.send_to(asio::buffer(b), to); };

  auto z = Identity::generate();
  auto stale = Identity::generate();
  auto tampered = Identity::generate();
  auto valid = encode_beacon(make_beacon(z, 4242, 7, now_ms()));
  auto t = encode_beacon(make_beacon(tampered, 4243, 7, now_ms()));
  t[40] ^= 1;  // instance
  // Unprocessable input first; then a marker beacon: once it is seen, all before it were handled
  // (one socket, handled in order).
  send(Bytes(600, 0x6d));
  send(Bytes(kBeaconSize, 0));
  send(encode_beacon(make_beacon(stale, 4244, 7, now_ms() - 11 * 60 * 1000)));
  send(t);
  send(valid);
  send(valid);  // a replay (or the same beacon by another path) is reported once
  auto marker = Identity::generate();
  auto marker_wire = encode_beacon(make_beacon(marker, 4245, 7, now_ms()));
  ASSERT_TRUE(eventually([&] {
    send(marker_wire);
    return n.count(marker.public_key()) > 0;
  }));
  EXPECT_EQ(n.count(marker.public_key()), 1);
  EXPECT_EQ(n.count(z.public_key()), 1);
  EXPECT_EQ(n.nearby(z.public_key())->address, "127.0.0.1:4242");
  EXPECT_EQ(n.nearby(z.public_key())->instance, 7u);
  EXPECT_EQ(n.count(stale.public_key()), 0);
  EXPECT_EQ(n.count(tampered.public_key()), 0);
  EXPECT_EQ(n.d->nearby().size(), 2u);

  // A newer beacon from z (restart: new instance, new port) replaces the entry.
  send(encode_beacon(make_beacon(z, 5000, 8, now_ms() + 1)));
  ASSERT_TRUE(eventually([&] { return n.count(z.public_key()) == 2; }));
  EXPECT_EQ(n.nearby(z.public_key())->address, "127.0.0.1:5000");
  EXPECT_EQ(n.nearby(z.public_key())->instance, 8u);
  // Replaying the older one now changes nothing.
  send(valid);
  auto marker2 = encode_beacon(make_beacon(marker, 4245, 7, now_ms() + 2));
  ASSERT_TRUE(eventually([&] {
    send(marker2);
    return n.count(marker.public_key()) == 2;
  }));
  EXPECT_EQ(n.nearby(z.public_key())->address, "127.0.0.1:5000");
  EXPECT_EQ(n.count(z.public_key()), 2);
}

// IPv6 multicast on lo is unroutable here (lo has no MULTICAST flag): the IPv6 target fails
// to send, which is logged, and IPv4 keeps working.
TEST_F(DiscoveryNet, OneFamilyFailingDoesNotStopTheOther) {
  auto port = free_udp_port();
  auto six = [](Options& o) { o.multicast_if6 = "lo"; };
  auto& a = add(port, {"127.255.255.255", kMulticastGroupV6}, six);
  auto& b = add(port, {"127.255.255.255", kMulticastGroupV6}, six);
  ASSERT_TRUE(a.d && b.d);
  ASSERT_TRUE(eventually([&] {
    return a.nearby(b.id.public_key()).has_value() && b.nearby(a.id.public_key()).has_value();
  }));
  EXPECT_EQ(a.nearby(b.id.public_key())->address, "127.0.0.1:" + std::to_string(b.tcp_port));
}

// Beacons tell the truth: their source is where receivers will dial, so a node sends only
// from addresses it listens on.
TEST(SendPlan, ALoopbackListenSendsOnlyFromItsAddressAndOnlyIpv4) {
  Options o;  // default targets: broadcast and both multicast groups
  auto plan = plan_sending("127.0.0.1:7979", o, {});
  EXPECT_EQ(plan.bind, "127.0.0.1");
  EXPECT_EQ(plan.multicast_if, "127.0.0.1");
  EXPECT_EQ(plan.targets, (std::vector<std::string>{"255.255.255.255", kMulticastGroupV4}));
  EXPECT_FALSE(plan.notes.empty()) << "the dropped IPv6 group is logged";
  // "localhost" is how the listener names 127.0.0.1.
  EXPECT_EQ(plan_sending("localhost:7979", o, {}).bind, "127.0.0.1");
}

TEST(SendPlan, ASpecificAddressOverridesAnotherMulticastInterface) {
  Options o;
  o.multicast_if = "10.0.0.5";
  auto plan = plan_sending("192.168.1.20:7979", o, {});
  EXPECT_EQ(plan.bind, "192.168.1.20");
  EXPECT_EQ(plan.multicast_if, "192.168.1.20");
}

TEST(SendPlan, WildcardsKeepTheRoutingTableButNotAForeignFamily) {
  Options o;
  auto v4 = plan_sending("0.0.0.0:7979", o, {});
  EXPECT_TRUE(v4.bind.empty());
  EXPECT_EQ(v4.targets, (std::vector<std::string>{"255.255.255.255", kMulticastGroupV4}));
  auto dual = plan_sending("[::]:7979", o, {});
  EXPECT_TRUE(dual.bind.empty());
  EXPECT_EQ(dual.targets.size(), 3u);
  EXPECT_TRUE(plan_sending("", o, {}).bind.empty());
}

TEST(SendPlan, AnIpv6ListenSendsIpv6OnItsInterface) {
  Options o;
  auto plan = plan_sending("[fd00::20]:7979", o, {{"192.168.1.20", "eth0"}, {"fd00::20", "eth0"}});
  EXPECT_EQ(plan.bind, "fd00::20");
  EXPECT_EQ(plan.multicast_if6, "eth0");
  EXPECT_EQ(plan.targets, std::vector<std::string>{kMulticastGroupV6});
}

// On the wire: a node listening on 127.0.0.2 is seen at 127.0.0.2, not at the address the
// routing table would pick for an unbound socket (127.0.0.1 on lo; the LAN address on a real
// network). All of it stays on loopback.
TEST_F(DiscoveryNet, ASpecificListenAddressIsTheSourceReceiversSee) {
  for (const char* target : {"127.255.255.255", kMulticastGroupV4}) {
    SCOPED_TRACE(target);
    auto port = free_udp_port();
    auto& sender = add(port, {target}, [](Options& o) { o.listen = "127.0.0.2:40100"; });
    auto& receiver = add(port, {target});
    ASSERT_TRUE(sender.d && receiver.d);
    ASSERT_TRUE(eventually([&] { return receiver.nearby(sender.id.public_key()).has_value(); }));
    EXPECT_EQ(receiver.nearby(sender.id.public_key())->address,
              "127.0.0.2:" + std::to_string(sender.tcp_port));
    // The receiver, bound to nothing in particular, is seen at the routing table's pick.
    ASSERT_TRUE(eventually([&] { return sender.nearby(receiver.id.public_key()).has_value(); }));
    EXPECT_EQ(sender.nearby(receiver.id.public_key())->address,
              "127.0.0.1:" + std::to_string(receiver.tcp_port));
  }
}
