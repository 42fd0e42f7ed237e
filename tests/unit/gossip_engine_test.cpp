// In-process engines joined by in-memory links: every LinkSend appends to one queue that pump()
// drains into the receiving engine's on_message, so runs are deterministic and never recurse.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "mesh/gossip/engine.hpp"
#include "mesh/gossip/link_protocol.hpp"

using namespace mesh;
using namespace mesh::gossip;
using mesh::identity::Identity;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::atomic<std::uint64_t> g_now{1'700'000'000'000};

struct TempRoot {
  fs::path path;
  TempRoot() {
    static int n = 0;
    path = fs::temp_directory_path() /
           ("mesh-engine-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempRoot() { fs::remove_all(path); }
};

struct Net;

// Records what a subscriber got, for checks from the test thread.
struct Inbox {
  std::mutex mu;
  std::vector<Event> events;
  std::size_t size() {
    std::lock_guard l(mu);
    return events.size();
  }
  std::vector<Event> all() {
    std::lock_guard l(mu);
    return events;
  }
  Engine::Handler handler() {
    return [this](const Event& e) {
      std::lock_guard l(mu);
      events.push_back(e);
      return true;
    };
  }
};

struct Node {
  std::string name;
  Identity id = Identity::generate();
  TempRoot root;
  std::unique_ptr<Engine> engine;

  explicit Node(std::string n) : name(std::move(n)) { open(); }
  const PublicKey& key() const { return id.public_key(); }
  void open() {
    EngineOptions o;
    o.root = root.path;
    o.self = &id;
    o.self_name = name;
    o.now_ms = [] { return g_now.load(); };
    auto e = Engine::open(std::move(o));
    ASSERT_TRUE(e) << e.error().message;
    engine = std::move(*e);
  }
  Event publish(std::string_view topic, std::string_view payload) {
    auto e = engine->publish(topic, as_bytes(payload));
    EXPECT_TRUE(e) << e.error().message;
    return e ? *e : Event{};
  }
  void admit(const Node& who) {
    RosterOp op;
    op.kind = RosterOp::Kind::admit;
    op.key = who.key();
    op.name = who.name;
    auto e = engine->publish(kRosterTopic, encode_roster_op(op));
    EXPECT_TRUE(e) << e.error().message;
  }
  void remove(const Node& who) {
    RosterOp op;
    op.kind = RosterOp::Kind::remove;
    op.key = who.key();
    auto e = engine->publish(kRosterTopic, encode_roster_op(op));
    EXPECT_TRUE(e) << e.error().message;
  }
  std::uint64_t rejected(const std::string& reason) {
    auto r = engine->rejected();
    auto it = r.find(reason);
    return it == r.end() ? 0 : it->second;
  }
};

struct Net {
  struct Msg {
    PublicKey from, to;
    std::string data;
  };
  std::mutex mu;
  std::deque<Msg> queue;
  std::map<PublicKey, Node*> nodes;
  std::set<std::pair<PublicKey, PublicKey>> links;
  // Per directed link: how many more sends succeed (absent = unlimited).
  std::map<std::pair<PublicKey, PublicKey>, int> credit;

  void add(Node& n) { nodes[n.key()] = &n; }

  LinkSend sender(const PublicKey& from, const PublicKey& to) {
    return [this, from, to](std::string m) {
      std::lock_guard l(mu);
      if (!links.count({from, to})) return false;
      if (auto c = credit.find({from, to}); c != credit.end()) {
        if (c->second <= 0) return false;
        --c->second;
      }
      EXPECT_LE(m.size(), kMaxLinkMessage);
      queue.push_back({from, to, std::move(m)});
      return true;
    };
  }
  void connect(Node& a, Node& b) {
    {
      std::lock_guard l(mu);
      links.insert({a.key(), b.key()});
      links.insert({b.key(), a.key()});
    }
    a.engine->link_up(b.key(), sender(a.key(), b.key()));
    b.engine->link_up(a.key(), sender(b.key(), a.key()));
  }
  void disconnect(Node& a, Node& b) {
    {
      std::lock_guard l(mu);
      links.erase({a.key(), b.key()});
      links.erase({b.key(), a.key()});
    }
    a.engine->link_down(b.key());
    b.engine->link_down(a.key());
  }
  // Delivers queued messages until quiet. Messages on a link cut meanwhile are lost, like TCP.
  std::size_t pump(std::size_t max = 100'000) {
    std::size_t n = 0;
    for (; n < max; ++n) {
      Msg m;
      {
        std::lock_guard l(mu);
        if (queue.empty()) break;
        m = std::move(queue.front());
        queue.pop_front();
        if (!links.count({m.from, m.to})) continue;
      }
      auto it = nodes.find(m.to);
      if (it != nodes.end() && it->second->engine) it->second->engine->on_message(m.from, m.data);
    }
    EXPECT_LT(n, max) << "the network never went quiet";
    return n;
  }
};

template <typename F>
bool eventually(F f, std::chrono::milliseconds limit = 5s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return f();
}

std::set<PublicKey> member_keys(const Node& n) {
  std::set<PublicKey> out;
  for (const auto& m : n.engine->roster().members()) out.insert(m.key);
  return out;
}

// A, B and C as the join flow builds them: A admits B and B admits its inviter A; B admits C
// and C admits B. All links up while it happens, so admits race the events they unlock.
struct Team {
  Net net;
  Node a{"alice"}, b{"bob"}, c{"carol"};
  explicit Team(bool full_mesh = true) {
    net.add(a);
    net.add(b);
    net.add(c);
    net.connect(a, b);
    net.connect(b, c);
    if (full_mesh) net.connect(a, c);
    net.pump();
    a.admit(b);
    net.pump();
    b.admit(a);
    net.pump();
    b.admit(c);
    net.pump();
    c.admit(b);
    net.pump();
  }
  std::set<PublicKey> all() const { return {a.key(), b.key(), c.key()}; }
};

std::string events_msg(const std::vector<Bytes>& raw) {
  return encode_link(EventsMsg{raw});
}
std::string events_msg(const Event& e) {
  return events_msg(std::vector<Bytes>{encode(e)});
}

}  // namespace

TEST(GossipEngine, EphemeralTopics) {
  EXPECT_TRUE(is_ephemeral_topic("heartbeat"));
  EXPECT_TRUE(is_ephemeral_topic("presence"));
  EXPECT_TRUE(is_ephemeral_topic("ci.live"));
  EXPECT_FALSE(is_ephemeral_topic("ci"));
  EXPECT_FALSE(is_ephemeral_topic("roster"));
  EXPECT_FALSE(is_ephemeral_topic("live"));
}

TEST(GossipEngine, RosterConvergesTransitively) {
  Team t;
  EXPECT_EQ(member_keys(t.a), t.all());
  EXPECT_EQ(member_keys(t.b), t.all());
  EXPECT_EQ(member_keys(t.c), t.all());
  EXPECT_EQ(t.c.engine->roster().find(t.a.key())->name, "alice");  // C never admitted A itself
  EXPECT_EQ(t.a.engine->roster().find_by_name("carol")->key, t.c.key());
  auto peers = t.c.engine->peers();
  EXPECT_EQ(peers.size(), 2u);
}

TEST(GossipEngine, RosterChangeCallbackAndReopen) {
  Net net;
  Node a("alice"), b("bob");
  net.add(a);
  net.add(b);
  std::atomic<int> calls{0};
  b.engine->on_roster_change([&] { ++calls; });
  net.connect(a, b);
  a.admit(b);
  b.admit(a);
  net.pump();
  EXPECT_TRUE(eventually([&] { return calls.load() >= 1; }));
  EXPECT_TRUE(b.engine->roster().is_member(a.key()));
  // The roster is rebuilt from the feeds on open.
  b.engine.reset();
  b.open();
  EXPECT_TRUE(b.engine->roster().is_member(a.key()));
  EXPECT_EQ(b.engine->roster().find(a.key())->name, "alice");
}

TEST(GossipEngine, CatchUpDeliversExactlyOnceAcrossRestart) {
  Team t;
  Inbox inbox;
  ASSERT_TRUE(t.c.engine->subscribe("test-sub", "ci", inbox.handler()));
  t.net.disconnect(t.a, t.c);
  t.net.disconnect(t.b, t.c);
  for (int i = 0; i < 100; ++i) t.a.publish("ci", "run " + std::to_string(i));
  t.a.publish("refs", "not for this subscriber");
  t.net.pump();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(inbox.size(), 0u);

  t.net.connect(t.a, t.c);
  t.net.pump();
  ASSERT_TRUE(eventually([&] { return inbox.size() >= 100; }));
  std::this_thread::sleep_for(100ms);
  auto got = inbox.all();
  ASSERT_EQ(got.size(), 100u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].origin, t.a.key());
    EXPECT_EQ(std::string(got[i].payload.begin(), got[i].payload.end()),
              "run " + std::to_string(i));
    if (i) {
      EXPECT_EQ(got[i].seq, got[i - 1].seq + 1);
    }
  }

  // Restart C: nothing is delivered again; new events still are.
  t.net.disconnect(t.a, t.c);
  t.c.engine.reset();
  t.c.open();
  Inbox again;
  ASSERT_TRUE(t.c.engine->subscribe("test-sub", "ci", again.handler()));
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(again.size(), 0u);
  t.net.connect(t.a, t.c);
  t.a.publish("ci", "after restart");
  t.net.pump();
  ASSERT_TRUE(eventually([&] { return again.size() >= 1; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(again.size(), 1u);
}

TEST(GossipEngine, LineTopologyRelays) {
  Team t(/*full_mesh=*/false);  // A - B - C
  EXPECT_EQ(member_keys(t.c), t.all());
  Inbox inbox;
  ASSERT_TRUE(t.c.engine->subscribe("line", "ci", inbox.handler()));
  for (int i = 0; i < 5; ++i) t.a.publish("ci", "x");
  t.net.pump();
  EXPECT_TRUE(eventually([&] { return inbox.size() == 5; }));

  // Live events are relayed too, once, and reach live subscribers without being stored.
  Inbox live;
  ASSERT_TRUE(t.c.engine->subscribe("live", "ci.live", live.handler()));
  t.a.publish("ci.live", "chunk");
  t.net.pump();
  EXPECT_TRUE(eventually([&] { return live.size() == 1; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(live.size(), 1u);
  // "ci" matches "ci.live" too: the stored-topic subscriber got the chunk live as well, once.
  EXPECT_TRUE(eventually([&] { return inbox.size() == 6; }));
  EXPECT_EQ(inbox.all().back().topic, "ci.live");
}

TEST(GossipEngine, RejectionsAreCountedAndNothingStored) {
  Net net;
  Node a("alice"), b("bob");
  net.add(a);
  net.add(b);
  net.connect(a, b);
  a.admit(b);
  b.admit(a);
  net.pump();
  net.disconnect(a, b);
  Inbox inbox;
  ASSERT_TRUE(b.engine->subscribe("rej", "t", inbox.handler()));
  auto& eng = *b.engine;
  auto before = [&](const std::string& r) { return b.rejected(r); };

  // Events signed by hand with A's key continue A's feed (A's engine publishes nothing more):
  // the probe, published while unlinked, tells the next seq.
  Event probe = a.publish("zzz", "probe");
  std::uint64_t seq = probe.seq;
  auto sign = [&](std::uint64_t s, std::uint64_t wall, std::string_view payload = "ok") {
    auto e = sign_event(a.id, s, 1000 + s, wall, "t", as_bytes(payload));
    EXPECT_TRUE(e);
    return *e;
  };
  eng.on_message(a.key(), events_msg(probe));

  auto n0 = before("bad_signature");
  Event forged = sign(seq + 1, g_now);
  forged.signature[5] ^= 1;
  eng.on_message(a.key(), events_msg(forged));
  EXPECT_EQ(b.rejected("bad_signature"), n0 + 1);

  auto f0 = before("future");
  eng.on_message(a.key(), events_msg(sign(seq + 1, g_now + 3'600'000)));
  EXPECT_EQ(b.rejected("future"), f0 + 1);

  Event good = sign(seq + 1, g_now);
  eng.on_message(a.key(), events_msg(good));
  auto d0 = before("duplicate");
  eng.on_message(a.key(), events_msg(good));  // replay
  EXPECT_EQ(b.rejected("duplicate"), d0 + 1);

  // Oversize, hand-crafted: a payload length field of 64 KiB + 1, with the bytes to match.
  Bytes big;
  {
    Event e = sign(seq + 2, g_now);
    Bytes enc = encode(e);
    std::size_t len_at = 58 + e.topic.size();
    Bytes head(enc.begin(), enc.begin() + static_cast<std::ptrdiff_t>(len_at));
    std::uint32_t n = kMaxPayload + 1;
    for (int i = 3; i >= 0; --i) head.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
    head.resize(head.size() + n, 'x');
    head.resize(head.size() + 64, 0);
    big = std::move(head);
  }
  auto o0 = before("oversize");
  eng.on_message(a.key(), events_msg(std::vector<Bytes>{big}));
  EXPECT_EQ(b.rejected("oversize"), o0 + 1);

  auto m0 = before("malformed");
  eng.on_message(a.key(), "garbage");
  std::string truncated = events_msg(sign(seq + 2, g_now));
  truncated.pop_back();
  eng.on_message(a.key(), truncated);
  eng.on_message(a.key(), std::string());
  eng.on_message(a.key(), std::string(kMaxLinkMessage + 1, '\x03'));  // counted as oversize
  EXPECT_EQ(b.rejected("malformed"), m0 + 3);
  EXPECT_EQ(b.rejected("oversize"), o0 + 2);

  // A gap is not stored, and the sender is asked for the missing range.
  auto g0 = before("gap");
  eng.on_message(a.key(), events_msg(sign(seq + 5, g_now)));
  EXPECT_EQ(b.rejected("gap"), g0 + 1);

  // A stranger's perfectly signed event.
  Identity x = Identity::generate();
  auto stranger = sign_event(x, 1, 1, g_now, "t", as_bytes("hi"));
  auto s0 = before("not_member");
  eng.on_message(x.public_key(), events_msg(*stranger));
  eng.on_message(x.public_key(),
                 encode_link(LiveMsg{encode(*sign_event(x, 9, 1, g_now, "presence", {}))}));
  EXPECT_EQ(b.rejected("not_member"), s0 + 2);

  std::this_thread::sleep_for(100ms);
  auto got = inbox.all();
  ASSERT_EQ(got.size(), 1u);  // only `good`
  EXPECT_EQ(got[0], good);
}

TEST(GossipEngine, RemovedMemberIsRejected) {
  Team t;
  Inbox inbox;
  ASSERT_TRUE(t.b.engine->subscribe("rm", "t", inbox.handler()));
  t.c.publish("t", "before");
  t.net.pump();
  ASSERT_TRUE(eventually([&] { return inbox.size() == 1; }));

  t.a.remove(t.c);
  t.net.pump();
  EXPECT_FALSE(t.b.engine->roster().is_member(t.c.key()));
  EXPECT_TRUE(t.b.engine->roster().is_removed(t.c.key()));
  EXPECT_FALSE(t.a.engine->roster().is_member(t.c.key()));

  auto n0 = t.b.rejected("not_member");
  t.c.publish("t", "after");
  t.net.pump();
  EXPECT_GT(t.b.rejected("not_member"), n0);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(inbox.size(), 1u);
  // The removed node's later roster ops count for nothing either.
  Node d("dave");
  t.net.add(d);
  t.c.admit(d);
  t.net.pump();
  EXPECT_FALSE(t.b.engine->roster().is_member(d.key()));
}

TEST(GossipEngine, AdmitArrivingAfterTheEventsConverges) {
  // D's events reach A before A learns that B admitted D: refused, then fetched again once the
  // admit arrives, with no tick or sync_now from the test.
  Team t;
  Node d("dave");
  t.net.add(d);
  t.net.disconnect(t.a, t.b);
  t.net.disconnect(t.a, t.c);
  t.net.connect(t.b, d);
  t.b.admit(d);
  d.admit(t.b);
  t.net.pump();
  std::vector<Bytes> ds;
  for (int i = 0; i < 3; ++i) ds.push_back(encode(d.publish("t", "d")));
  t.net.pump();
  Inbox inbox;
  ASSERT_TRUE(t.a.engine->subscribe("late", "t", inbox.handler()));
  auto n0 = t.a.rejected("not_member");
  t.a.engine->on_message(d.key(), encode_link(EventsMsg{ds}));
  EXPECT_EQ(t.a.rejected("not_member"), n0 + 3);
  t.net.connect(t.a, t.b);
  t.net.pump();
  EXPECT_TRUE(t.a.engine->roster().is_member(d.key()));
  EXPECT_TRUE(eventually([&] { return inbox.size() == 3; }));
}

TEST(GossipEngine, BackpressureLosesNothing) {
  Net net;
  Node a("alice"), b("bob");
  net.add(a);
  net.add(b);
  net.connect(a, b);
  a.admit(b);
  b.admit(a);
  net.pump();
  Inbox inbox;
  ASSERT_TRUE(b.engine->subscribe("bp", "blob", inbox.handler()));
  net.credit[{a.key(), b.key()}] = 0;  // A's sends to B fail
  std::string payload(60'000, 'p');
  for (int i = 0; i < 20; ++i) a.publish("blob", payload);
  net.pump();
  EXPECT_EQ(inbox.size(), 0u);
  // Two messages per round: several rounds (ticks) complete the transfer.
  int rounds = 0;
  for (; rounds < 50 && inbox.size() < 20; ++rounds) {
    net.credit[{a.key(), b.key()}] = 2;
    a.engine->tick();
    net.pump();
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(eventually([&] { return inbox.size() == 20; }));
  EXPECT_GT(rounds, 2);
  auto got = inbox.all();
  for (std::size_t i = 1; i < got.size(); ++i) EXPECT_EQ(got[i].seq, got[i - 1].seq + 1);
}

TEST(GossipEngine, HeartbeatsDriveUpAndDown) {
  Team t(/*full_mesh=*/false);  // A - B - C: C hears A's heartbeat only through B
  g_now += 60'000;              // everything from the setup is now old
  auto find = [](Node& n, const PublicKey& k) {
    for (auto& p : n.engine->peers()) {
      if (p.member.key == k) return p;
    }
    return PeerState{};
  };
  EXPECT_FALSE(find(t.c, t.a.key()).up);
  t.a.engine->tick();
  t.net.pump();
  auto pa = find(t.c, t.a.key());
  EXPECT_TRUE(pa.up);
  EXPECT_FALSE(pa.linked);
  EXPECT_NE(pa.heartbeat.find("\"name\":\"alice\""), std::string::npos) << pa.heartbeat;
  EXPECT_NE(pa.heartbeat.find("\"links\":1"), std::string::npos) << pa.heartbeat;
  EXPECT_TRUE(find(t.b, t.a.key()).up);
  EXPECT_TRUE(find(t.b, t.a.key()).linked);
  g_now += 16'000;
  EXPECT_FALSE(find(t.c, t.a.key()).up);
  EXPECT_FALSE(find(t.b, t.a.key()).up);
}

// A link replaced while a push round runs on it (both sides dialled at once, or a reconnect):
// what the old link carried may be lost, and the round must start over on the new link
// rather than leave the peer stalled.
TEST(GossipEngine, LinkReplacedDuringARoundStillDelivers) {
  Net net;
  Node a("alice"), b("bob");
  net.add(a);
  net.add(b);
  net.connect(a, b);
  a.admit(b);
  b.admit(a);
  net.pump();
  Inbox inbox;
  ASSERT_TRUE(b.engine->subscribe("swap", "blob", inbox.handler()));
  net.credit[{a.key(), b.key()}] = 0;  // B misses these when they are published
  for (int i = 0; i < 3; ++i) a.publish("blob", "payload");
  net.pump();
  net.credit.erase({a.key(), b.key()});
  ASSERT_EQ(inbox.size(), 0u);

  bool replaced = false;
  auto plain = net.sender(a.key(), b.key());
  a.engine->link_up(b.key(), [&](std::string m) {
    if (!replaced && !m.empty() && m[0] == static_cast<char>(LinkType::events)) {
      replaced = true;
      a.engine->link_up(b.key(), net.sender(a.key(), b.key()));
      return true;  // accepted by the old link, then lost with it
    }
    return plain(std::move(m));
  });
  net.pump();
  ASSERT_TRUE(replaced);
  EXPECT_TRUE(eventually([&] {
    net.pump();
    return inbox.size() == 3;
  }));
}
