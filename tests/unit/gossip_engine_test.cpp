// In-process engines joined by in-memory links: every LinkSend appends to one queue that pump()
// drains into the receiving engine's on_message, so runs are deterministic and never recurse.
#include "gossip_engine_fixture.hpp"

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

// peers() says since when a member is linked, and since when it no longer is (what `mesh
// peers` shows as its reach).
TEST(GossipEngine, PeersCarryWhenTheirLinkCameUpAndWentDown) {
  Team t(false);  // A and C only through B
  auto find = [](Node& n, const PublicKey& key) {
    for (auto& p : n.engine->peers()) {
      if (p.member.key == key) return p;
    }
    ADD_FAILURE() << "not a peer";
    return PeerState{};
  };
  auto a_on_c = find(t.c, t.a.key());
  EXPECT_FALSE(a_on_c.linked);
  EXPECT_EQ(a_on_c.linked_since_ms, 0u);
  EXPECT_EQ(a_on_c.unlinked_since_ms, 0u);
  std::uint64_t up_at = g_now.load();
  auto b_on_c = find(t.c, t.b.key());
  EXPECT_TRUE(b_on_c.linked);
  EXPECT_LE(b_on_c.linked_since_ms, up_at);
  EXPECT_GT(b_on_c.linked_since_ms, 0u);
  g_now += 7'000;
  t.net.disconnect(t.b, t.c);
  b_on_c = find(t.c, t.b.key());
  EXPECT_FALSE(b_on_c.linked);
  EXPECT_EQ(b_on_c.linked_since_ms, 0u);
  EXPECT_EQ(b_on_c.unlinked_since_ms, g_now.load());
  g_now += 1'000;
  t.net.connect(t.b, t.c);
  b_on_c = find(t.c, t.b.key());
  EXPECT_TRUE(b_on_c.linked);
  EXPECT_EQ(b_on_c.linked_since_ms, g_now.load());
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
  // A sentinel of C's own, handled by the same subscription: once it is there, whatever C had
  // has been offered, and none of A's events was.
  t.c.publish("ci", "c-sentinel");
  ASSERT_TRUE(eventually([&] { return inbox.has("c-sentinel"); }));
  EXPECT_EQ(inbox.payloads(), std::vector<std::string>{"c-sentinel"});

  t.net.connect(t.a, t.c);
  t.net.pump();
  ASSERT_TRUE(eventually([&] { return inbox.size() >= 101; }));
  // A's own sentinel after its 100 events: once it arrived, a repeat of any of them would have.
  t.a.publish("ci", "a-sentinel");
  t.net.pump();
  ASSERT_TRUE(eventually([&] { return inbox.has("a-sentinel"); }));
  std::vector<Event> got;
  for (const auto& e : inbox.all())
    if (e.origin == t.a.key()) got.push_back(e);
  ASSERT_EQ(got.size(), 101u);
  EXPECT_EQ(std::string(got.back().payload.begin(), got.back().payload.end()), "a-sentinel");
  got.pop_back();
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
  t.c.publish("ci", "restart-sentinel");
  ASSERT_TRUE(eventually([&] { return again.has("restart-sentinel"); }));
  EXPECT_EQ(again.payloads(), std::vector<std::string>{"restart-sentinel"});
  t.net.connect(t.a, t.c);
  t.a.publish("ci", "after restart");
  t.a.publish("ci", "last-sentinel");
  t.net.pump();
  ASSERT_TRUE(eventually([&] { return again.has("last-sentinel"); }));
  EXPECT_EQ(again.payloads(),
            (std::vector<std::string>{"restart-sentinel", "after restart", "last-sentinel"}));
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
  t.a.publish("ci.live", "live-sentinel");  // same origin, same path: it comes after any copy
  t.net.pump();
  ASSERT_TRUE(eventually([&] { return live.has("live-sentinel"); }));
  EXPECT_EQ(live.payloads(), (std::vector<std::string>{"chunk", "live-sentinel"}));
  // "ci" matches "ci.live" too: the stored-topic subscriber got the chunks live as well, once.
  ASSERT_TRUE(eventually([&] { return inbox.has("live-sentinel"); }));
  auto all = inbox.all();
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all[5].topic, "ci.live");
  EXPECT_EQ(inbox.payloads()[5], "chunk");
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

  // A valid event after all of them: once it is delivered, the refused ones would have been.
  Event sentinel = sign(seq + 2, g_now, "sentinel");
  eng.on_message(a.key(), events_msg(sentinel));
  ASSERT_TRUE(eventually([&] { return inbox.has("sentinel"); }));
  auto got = inbox.all();
  ASSERT_EQ(got.size(), 2u);  // only `good`, then the sentinel
  EXPECT_EQ(got[0], good);
  EXPECT_EQ(got[1], sentinel);
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
  t.a.publish("t", "sentinel");  // a member's, after C's: once it is there, C's would be
  t.net.pump();
  ASSERT_TRUE(eventually([&] { return inbox.has("sentinel"); }));
  EXPECT_EQ(inbox.payloads(), (std::vector<std::string>{"before", "sentinel"}));
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
  // Two messages per round: several rounds (ticks) complete the transfer. (The inbox may lag
  // behind what was pumped; then the loop runs more rounds than needed, which costs nothing.)
  int rounds = 0;
  for (; rounds < 50 && inbox.size() < 20; ++rounds) {
    net.credit[{a.key(), b.key()}] = 2;
    a.engine->tick();
    net.pump();
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

// local.* topics reach this node's subscribers only: never stored, never sent to a link, and a
// peer's event on one is refused whichever way it comes.
TEST(GossipEngine, LocalTopicsStayOnTheirNode) {
  EXPECT_TRUE(is_local_topic("local"));
  EXPECT_TRUE(is_local_topic("local.sync"));
  EXPECT_FALSE(is_local_topic("locale"));
  EXPECT_FALSE(is_local_topic("ci.local"));
  EXPECT_TRUE(is_ephemeral_topic("local.sync"));  // never stored

  Net net;
  Node a("alice"), b("bob");
  net.add(a);
  net.add(b);
  net.connect(a, b);
  a.admit(b);
  b.admit(a);
  net.pump();
  Inbox a_local, b_all;
  ASSERT_TRUE(a.engine->subscribe("loc", "local", a_local.handler()));
  ASSERT_TRUE(b.engine->subscribe("all", "*", b_all.handler()));

  Event before = a.publish("t", "stored-1");
  Event local = a.publish("local.sync", R"({"repo":null})");
  net.pump();
  ASSERT_TRUE(eventually([&] { return a_local.size() == 1; }));
  EXPECT_EQ(a_local.all()[0].topic, "local.sync");
  // Not stored: the next stored event follows the previous one directly.
  Event after = a.publish("t", "stored-2");
  EXPECT_EQ(after.seq, before.seq + 1);
  net.pump();
  // B saw both stored events (the sentinel) and nothing of the local one.
  ASSERT_TRUE(eventually([&] { return b_all.has("stored-2"); }));
  for (const auto& e : b_all.all()) EXPECT_FALSE(is_local_topic(e.topic)) << e.topic;

  // B (a member) forges local events for A: as a live event and as a stored one.
  auto m0 = a.rejected("malformed");
  auto forged_live = sign_event(b.id, 9'000'000, 1, g_now, "local.sync", as_bytes("forged"));
  ASSERT_TRUE(forged_live);
  a.engine->on_message(b.key(), encode_link(LiveMsg{encode(*forged_live)}));
  auto forged_stored = sign_event(b.id, 1'000, 1, g_now, "local.sync", as_bytes("forged"));
  ASSERT_TRUE(forged_stored);
  a.engine->on_message(b.key(), events_msg(*forged_stored));
  EXPECT_EQ(a.rejected("malformed"), m0 + 2);
  // A local sentinel of A's own comes after them on the same subscription.
  a.publish("local.sentinel", "");
  ASSERT_TRUE(eventually([&] { return a_local.size() == 2; }));
  EXPECT_EQ(a_local.all()[1].topic, "local.sentinel");
  EXPECT_EQ(a_local.all()[0], local);
}

// A clean stop says goodbye: members count the node down at once (also through a relay), an
// older heartbeat that arrives afterwards does not bring it back, and its next heartbeat (the
// node started again) does.
TEST(GossipEngine, GoodbyeMarksANodeDownAtOnceAndItsNextHeartbeatRevivesIt) {
  Team t(/*full_mesh=*/false);  // A - B - C
  g_now += 60'000;
  auto find = [](Node& n, const PublicKey& k) {
    for (auto& p : n.engine->peers()) {
      if (p.member.key == k) return p;
    }
    return PeerState{};
  };
  EXPECT_TRUE(is_ephemeral_topic(kGoodbyeTopic));
  std::string late;
  t.a.engine->tick();
  t.net.pump();
  EXPECT_TRUE(find(t.b, t.a.key()).up);
  g_now += 5'000;
  t.a.engine->tick();
  // Capture A's heartbeat on its way to B, to replay it after the goodbye.
  {
    std::lock_guard l(t.net.mu);
    for (const auto& m : t.net.queue) {
      if (m.from == t.a.key() && m.to == t.b.key() && !m.data.empty() &&
          m.data[0] == static_cast<char>(LinkType::live)) {
        late = m.data;
      }
    }
  }
  ASSERT_FALSE(late.empty());
  t.net.pump();
  EXPECT_TRUE(find(t.c, t.a.key()).up);
  EXPECT_TRUE(find(t.b, t.a.key()).up);

  t.a.engine->goodbye();
  t.net.pump();
  for (Node* n : {&t.b, &t.c}) {
    auto p = find(*n, t.a.key());
    EXPECT_FALSE(p.up) << n->name;
    EXPECT_TRUE(p.left) << n->name;
  }
  // The older heartbeat, replayed on the B-A link and relayed: A stays down everywhere.
  t.b.engine->on_message(t.a.key(), late);
  t.net.pump();
  EXPECT_FALSE(find(t.b, t.a.key()).up);
  EXPECT_FALSE(find(t.c, t.a.key()).up);
  // A new heartbeat (a later live seq) revives it.
  g_now += 5'000;
  t.a.engine->tick();
  t.net.pump();
  EXPECT_TRUE(find(t.b, t.a.key()).up);
  EXPECT_TRUE(find(t.c, t.a.key()).up);
  EXPECT_FALSE(find(t.c, t.a.key()).left);
}
