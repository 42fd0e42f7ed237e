// The Lamport clock bound and the per-origin and per-peer limits of the gossip engine, on
// in-process engines (gossip_engine_fixture.hpp) with an injected wall clock.
#include <fstream>
#include <limits>

#include "gossip_engine_fixture.hpp"
#include "mesh/gossip/feed_store.hpp"

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// Two members, A and B, linked; B refuses what `limits` refuses.
struct Pair {
  Net net;
  Node a{"alice"}, b{"bob"};
  explicit Pair(Limits limits = {}) {
    b.limits = limits;
    b.engine.reset();
    b.open();
    net.add(a);
    net.add(b);
    net.connect(a, b);
    a.admit(b);
    b.admit(a);
    net.pump();
  }
  // An event of A's signed by hand, continuing A's feed as B holds it.
  Event next_of_a(std::uint64_t lamport, std::string_view payload = "x") {
    auto e = sign_event(a.id, last_of_a() + 1, lamport, g_now, "t", as_bytes(payload));
    EXPECT_TRUE(e);
    return *e;
  }
  std::uint64_t last_of_a() {
    auto vv = feeds_of_b();
    auto it = vv.find(a.key());
    return it == vv.end() ? 0 : it->second;
  }
  VersionVector feeds_of_b() {
    // What B would say in a version vector: read through its hello on a fresh fake link.
    std::string hello;
    b.engine->link_up(probe.public_key(), [&](std::string m) {
      if (hello.empty()) hello = std::move(m);
      return true;
    });
    b.engine->link_down(probe.public_key());
    auto d = decode_link(hello);
    EXPECT_TRUE(d && std::holds_alternative<HelloMsg>(*d));
    return d ? std::get<HelloMsg>(*d).vv : VersionVector{};
  }
  std::optional<Offender> offender(const Node& who) {
    for (const auto& o : b.engine->offenders()) {
      if (o.key == who.key()) return o;
    }
    return std::nullopt;
  }
  std::uint64_t throttled(const std::string& kind) {
    auto t = b.engine->throttled();
    return t.count(kind) ? t[kind] : 0;
  }
  Identity probe = Identity::generate();
};

}  // namespace

TEST(LamportBound, TheRule) {
  EXPECT_TRUE(lamport_acceptable(0, 0));
  EXPECT_TRUE(lamport_acceptable(5, 1000));  // behind: always fine
  EXPECT_TRUE(lamport_acceptable(1000 + kMaxLamportJump, 1000));
  EXPECT_FALSE(lamport_acceptable(1001 + kMaxLamportJump, 1000));
  EXPECT_TRUE(lamport_acceptable(kLamportCeiling, kLamportCeiling - 1));
  EXPECT_FALSE(lamport_acceptable(kLamportCeiling + 1, kLamportCeiling));
  EXPECT_FALSE(lamport_acceptable(kMax - 1, kMax - 2));  // never above the ceiling
  EXPECT_FALSE(lamport_acceptable(kMax, 0));
}

TEST(LamportBound, AClockFarAheadIsRefusedRecordedAndTheMeshGoesOn) {
  Pair p;
  auto& b = *p.b.engine;
  // The attack of issue 11: a member's event with clock 2^64 - 2.
  Event attack = p.next_of_a(kMax - 1, "attack");
  b.on_message(p.a.key(), events_msg(attack));
  EXPECT_EQ(p.b.rejected("lamport"), 1u);
  EXPECT_EQ(p.last_of_a(), attack.seq - 1);  // not stored
  auto o = p.offender(p.a);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->lamport_refused, 1u);
  EXPECT_EQ(o->highest_lamport, kMax - 1);
  EXPECT_EQ(o->last, "lamport");
  // B's clock did not move: it publishes, admits and removes as before.
  Event mine = p.b.publish("t", "still publishing");
  EXPECT_LT(mine.lamport, 1000u);
  Node carol("carol");
  p.b.admit(carol);
  EXPECT_TRUE(b.roster().is_member(carol.key()));
  p.b.remove(p.a);
  EXPECT_FALSE(b.roster().is_member(p.a.key()));

  // Just within the bound is stored; one more than that is not.
  Pair q;
  auto local = [&] { return q.b.publish("t", "tick").lamport; };
  Event edge = q.next_of_a(local() + kMaxLamportJump);
  q.b.engine->on_message(q.a.key(), events_msg(edge));
  EXPECT_EQ(q.last_of_a(), edge.seq);
  Event past = q.next_of_a(local() + kMaxLamportJump + 1);
  q.b.engine->on_message(q.a.key(), events_msg(past));
  EXPECT_EQ(q.last_of_a(), edge.seq);
  EXPECT_EQ(q.b.rejected("lamport"), 1u);
}

// A node whose feeds were poisoned before the bound existed: the clock is rebuilt from the
// sane clocks only, and even a clock at its very end never makes a tick fail.
TEST(LamportBound, PoisonedFeedsOnDiskNeitherFreezeNorFailTheClock) {
  TempRoot root;
  Identity self = Identity::generate(), member = Identity::generate();
  {
    auto store = FeedStore::open(root.path);
    ASSERT_TRUE(store) << store.error().message;
    auto ok = sign_event(member, 1, 40, g_now, "t", as_bytes("fine"));
    auto bad = sign_event(member, 2, kMax - 1, g_now, "t", as_bytes("poison"));
    ASSERT_TRUE((*store)->append(*ok) && (*store)->append(*bad));
    EXPECT_EQ((*store)->lamport(), kMax - 1);
    // A tick at the very end: saturates, never "exhausted".
    for (int i = 0; i < 3; ++i) {
      auto t = (*store)->tick();
      ASSERT_TRUE(t) << t.error().message;
      EXPECT_EQ(*t, kMax);
    }
    auto own = (*store)->append_own(self, "roster", as_bytes("{}"), g_now);
    ASSERT_TRUE(own) << own.error().message;
  }
  {
    std::ifstream f(root.path / "feeds" / "lamport");
    std::string text;
    f >> text;
    EXPECT_EQ(text, std::to_string(kMax));  // the reservation the attack left behind
  }
  auto store = FeedStore::open(root.path);
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ((*store)->lamport(), 40u);
  EXPECT_EQ((*store)->last_seq(member.public_key()), 2u);  // the events themselves stay
  auto t = (*store)->tick();
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 41u);
}

TEST(GossipLimits, AFloodingOriginIsThrottledAtItsRateWhileOthersFlow) {
  Limits l;
  l.events_per_minute = 60;  // one a second
  l.event_burst = 10;
  Pair p(l);
  Node carol("carol");
  p.net.add(carol);
  p.a.admit(carol);
  carol.admit(p.a);
  p.net.pump();
  p.net.connect(p.b, carol);
  p.net.pump();
  auto base = p.last_of_a();
  g_now += 60'000;  // the setup's events spent some of the bucket: full again
  // A publishes 100 events at once; B stores the burst and refuses the rest for now.
  for (int i = 0; i < 100; ++i) p.a.publish("t", "flood " + std::to_string(i));
  p.net.pump();
  EXPECT_EQ(p.last_of_a(), base + 10);
  EXPECT_GE(p.throttled("events"), 1u);
  auto o = p.offender(p.a);
  ASSERT_TRUE(o);
  EXPECT_GE(o->events_throttled, 1u);
  EXPECT_EQ(o->last, "events");
  // Carol's events are not held up by A's flood.
  Inbox inbox;
  ASSERT_TRUE(p.b.engine->subscribe("lim", "t", inbox.handler()));
  Event c1 = carol.publish("t", "carol's");
  p.net.pump();
  EXPECT_TRUE(eventually([&] { return inbox.has("carol's"); }));
  EXPECT_FALSE(p.offender(carol));
  // Twenty seconds later, ten more of A's (refilled at one a second, but at most the burst is
  // saved up), fetched again by the next anti-entropy round: nothing asked for them meanwhile.
  g_now += 20'000;
  p.a.engine->sync_now();
  p.b.engine->sync_now();
  p.net.pump();
  EXPECT_EQ(p.last_of_a(), base + 20);
  // Reloaded limits apply to the next event.
  l.event_burst = 1000;
  l.events_per_minute = 100'000;
  p.b.engine->set_limits(l);
  g_now += 60'000;
  p.b.engine->sync_now();
  p.net.pump();
  EXPECT_EQ(p.last_of_a(), base + 100);
  (void)c1;
}

TEST(GossipLimits, FeedBytesPerDayAreCapped) {
  Limits l;
  l.feed_bytes_per_day = 1 << 20;
  Pair p(l);
  auto base = p.last_of_a();
  std::string big(60'000, 'b');
  for (int i = 0; i < 30; ++i) p.a.publish("t", big);  // 1.8 MB
  p.net.pump();
  auto stored = p.last_of_a() - base;
  EXPECT_GE(stored, 16u);  // 1 MiB / 60 KB, less what the pair's setup stored
  EXPECT_LE(stored, 18u);
  auto o = p.offender(p.a);
  ASSERT_TRUE(o);
  EXPECT_GE(o->bytes_throttled, 1u);
  EXPECT_EQ(o->last, "feed_bytes");
  EXPECT_GE(p.throttled("feed_bytes"), 1u);
}

TEST(GossipLimits, LiveEventsAndSyncRequestsPerMinute) {
  Limits l;
  l.live_per_minute = 5;
  l.sync_per_minute = 3;
  Pair p(l);
  Inbox inbox;
  ASSERT_TRUE(p.b.engine->subscribe("live", "presence", inbox.handler()));
  for (int i = 0; i < 12; ++i) p.a.publish("presence", "here " + std::to_string(i));
  p.net.pump();
  EXPECT_TRUE(eventually([&] { return inbox.size() == 5; }));
  EXPECT_FALSE(inbox.has("here 5"));
  auto o = p.offender(p.a);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->live_throttled, 7u);

  // Version vectors that would each make B push a whole round to A (the bucket full again).
  g_now += 60'000;
  for (int i = 0; i < 10; ++i) {
    p.b.engine->on_message(p.a.key(), encode_link(VvMsg{VersionVector{}}));
  }
  o = p.offender(p.a);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->sync_throttled, 7u);
  EXPECT_EQ(p.throttled("sync"), 7u);
  EXPECT_EQ(p.throttled("live"), 7u);
  p.net.pump();
}
