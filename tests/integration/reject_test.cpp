// Hostile gossip input against a real daemon: the test speaks the link protocol itself, as a
// member (B's key, while B's daemon is stopped), over a real mutual-TLS websocket.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "harness.hpp"
#include "mesh/gossip/event.hpp"
#include "mesh/gossip/feed_store.hpp"
#include "mesh/gossip/link_protocol.hpp"
#include "mesh/http/websocket.hpp"
#include "mesh/identity/identity.hpp"

using namespace mesh;
using namespace mesh::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::int64_t rejected(const Node& n, const std::string& reason) {
  auto st = n.mesh_json({"status"});
  const auto* r = st.at("gossip").at("rejected").as_object().if_contains(reason);
  return r ? r->to_number<std::int64_t>() : 0;
}

std::string events_msg(std::vector<Bytes> events) {
  gossip::EventsMsg m;
  m.events = std::move(events);
  return gossip::encode_link(m);
}

std::size_t seen_lines(const Node& n, const std::string& origin) {
  auto out = n.mesh({"hello-seen"}).out;
  std::size_t count = 0, pos = 0;
  while ((pos = out.find(origin, pos)) != std::string::npos) {
    ++count;
    pos += origin.size();
  }
  return count;
}

}  // namespace

TEST(Reject, HostileEventsAreCountedNothingIsStoredAndTheDaemonStaysUp) {
  TempDir dir("reject");
  Node a(dir.path(), "alice"), b(dir.path(), "bob"), c(dir.path(), "carol");
  for (Node* n : {&a, &b, &c}) {
    n->write_config({"test-hello"});
    ASSERT_EQ(n->start().exit, 0);
  }
  auto token = [](const Node& n) {
    return std::string(n.mesh_json({"invite"}).at("token").as_string());
  };
  ASSERT_EQ(b.mesh({"join", token(a)}).exit, 0);
  ASSERT_EQ(c.mesh({"join", token(a)}).exit, 0);
  ASSERT_EQ(a.mesh({"remove-peer", "carol"}).exit, 0);
  ASSERT_EQ(b.stop().exit, 0);
  ASSERT_EQ(c.stop().exit, 0);

  auto bob = identity::Identity::load(b.root());
  auto carol = identity::Identity::load(c.root());
  ASSERT_TRUE(bob && carol);
  std::uint64_t next = 0;
  std::vector<gossip::Event> stored;
  {
    auto feeds = gossip::FeedStore::open(b.root());
    ASSERT_TRUE(feeds) << feeds.error().message;
    next = (*feeds)->last_seq(bob->public_key()) + 1;
    auto r = (*feeds)->read(bob->public_key(), 1, 10);
    ASSERT_TRUE(r && !r->empty());
    stored = *r;
  }
  auto alice = identity::parse_id(std::string(a.mesh_json({"id"}).at("id").as_string()));
  ASSERT_TRUE(alice);

  // Connect to A as B.
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  auto tls = bob->tls_material("bob");
  ASSERT_TRUE(tls);
  http::DialOptions d;
  d.host = "127.0.0.1";
  d.port = static_cast<std::uint16_t>(a.port());
  d.tls = *tls;
  d.expected = *alice;
  std::promise<Result<std::shared_ptr<http::WsConnection>>> dialled;
  http::dial_websocket(io, d, [&](auto r) { dialled.set_value(std::move(r)); });
  auto link = dialled.get_future().get();
  ASSERT_TRUE(link) << link.error().message;
  std::promise<void> closed;
  std::atomic<bool> closed_once{false};
  (*link)->start([](std::string&&) {},
                 [&](const std::string&) {
                   if (!closed_once.exchange(true)) closed.set_value();
                 });

  auto sign = [&](const identity::Identity& who, std::uint64_t seq, std::uint64_t wall,
                  std::string payload) {
    auto ev = gossip::sign_event(who, seq, 1'000'000, wall, "test.hello", as_bytes(payload));
    EXPECT_TRUE(ev);
    return *ev;
  };
  // Forged: a valid event whose payload was changed after signing.
  auto forged = sign(*bob, next, now_ms(), "event-forged");
  forged.payload[0] ^= 1;
  // A timestamp an hour ahead.
  auto future = sign(*bob, next, now_ms() + 3'600'000, "event-future");
  // A stranger's and a removed member's perfectly signed events, relayed by B.
  auto stranger_id = identity::Identity::generate();
  auto stranger = sign(stranger_id, 1, now_ms(), "event-stranger");
  auto removed = sign(*carol, 50, now_ms(), "event-removed");
  // An oversize payload: built by hand, since the encoder refuses it.
  auto big = gossip::encode(sign(*bob, next, now_ms(), "x"));
  Bytes oversize(big.begin(), big.begin() + 1 + 32 + 8 + 8 + 8 + 1 + 10);  // header + topic
  std::uint32_t len = gossip::kMaxPayload + 1;
  for (int i = 3; i >= 0; --i) oversize.push_back(static_cast<std::uint8_t>(len >> (8 * i)));
  oversize.resize(oversize.size() + len + 64, 0x41);
  auto valid = gossip::encode(sign(*bob, next, now_ms(), "event-valid"));
  Bytes truncated(valid.begin(), valid.end() - 10);

  auto send = [&](std::string msg) { ASSERT_TRUE((*link)->send(std::move(msg))); };
  send(events_msg({gossip::encode(forged)}));
  send(events_msg({gossip::encode(future)}));
  send(events_msg({gossip::encode(stranger)}));
  send(events_msg({gossip::encode(removed)}));
  send(events_msg({truncated}));
  send(events_msg({gossip::encode(stored.front())}));  // replayed
  send("\x03garbage that is not a link message");
  send(events_msg({oversize}));  // 64 KiB + 1 payload: fits a link message, not an event

  EXPECT_TRUE(eventually([&] { return rejected(a, "bad_signature") >= 1; }, 10s));
  EXPECT_TRUE(eventually([&] { return rejected(a, "future") >= 1; }, 10s));
  EXPECT_TRUE(eventually([&] { return rejected(a, "not_member") >= 2; }, 10s));
  EXPECT_TRUE(eventually([&] { return rejected(a, "duplicate") >= 1; }, 10s));
  EXPECT_TRUE(eventually([&] { return rejected(a, "malformed") >= 2; }, 10s));
  EXPECT_TRUE(eventually([&] { return rejected(a, "oversize") >= 1; }, 10s))
      << a.mesh({"--json", "status"}).out;
  // Still serving, and none of it reached a subscriber.
  EXPECT_EQ(a.mesh({"status"}).exit, 0);
  EXPECT_EQ(seen_lines(a, bob->id()), 0u);
  EXPECT_EQ(seen_lines(a, stranger_id.id()), 0u);
  EXPECT_EQ(seen_lines(a, carol->id()), 0u);

  // The same link still carries a valid event: the checks above rejected, not the link.
  ASSERT_FALSE(closed_once.load());
  send(events_msg({valid}));
  EXPECT_TRUE(eventually([&] { return seen_lines(a, bob->id()) == 1; }, 10s))
      << a.mesh({"hello-seen"}).out;
  (*link)->close();
  work.reset();
  io.stop();
  runner.join();
}
