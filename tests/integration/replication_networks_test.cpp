// Replication on networks that are not a full mesh (issue #16), on three real daemons whose
// every connection goes through a TCP proxy (proxied_trio.hpp): a line B - A - C with no route
// between B and C, a link that drops traffic silently, a fetch that hangs, and a node that
// accepts no inbound connections at all (a laptop behind NAT). In each a push on any node reaches
// every node and no divergence is reported; the tests print how long each extra hop took.
//
// The loopback proxies stand in for network namespaces: what the nodes see (refused, hanging
// or working connections per direction) is the same, and these run as any user.
// netns_line.sh (integration.netns_line, root) runs the line and the outbound-only node in
// real network namespaces.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "harness.hpp"
#include "proxied_trio.hpp"
#include "trio.hpp"

using namespace mesh::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kReplicate = 60s;

// main of `repo` in n's mirror, read straight from the bare repository ("" if absent).
std::string mirror_main(const Trio& t, const Node& n, const std::string& repo) {
  auto p = t.git({"--git-dir", (n.root() / "repos" / (repo + ".git")).string(), "rev-parse", "-q",
                  "--verify", "refs/heads/main"});
  std::string s = p.out;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return p.exit == 0 ? s : "";
}

// Pushes main of `work` to `to` and returns, per node, the milliseconds until its mirror had
// the new commit (-1: not within kReplicate).
std::map<std::string, long> push_and_time(ProxiedTrio& t, Node& to,
                                          const std::filesystem::path& work, std::string* out) {
  const std::string want = t.rev(work, "HEAD");
  const auto start = Clock::now();
  auto p = t.git_to(to, {"push", Trio::https(to, "app"), "main"}, work);
  EXPECT_EQ(p.exit, 0) << p.err;
  if (out) *out = p.err;
  std::map<std::string, long> ms;
  for (Node* n : t.all()) ms[n->name()] = -1;
  eventually(
      [&] {
        bool all = true;
        for (Node* n : t.all()) {
          if (ms[n->name()] >= 0) continue;
          if (mirror_main(t, *n, "app") == want) {
            ms[n->name()] =
                std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
          } else {
            all = false;
          }
        }
        return all;
      },
      kReplicate);
  return ms;
}

void expect_no_divergence(ProxiedTrio& t) {
  for (Node* n : t.all()) {
    EXPECT_TRUE(log_lines_with(*n, "diverged").empty()) << n->name() << ":\n"
                                                        << log_lines_with(*n, "diverged").front();
    EXPECT_TRUE(divergences_of(*n, "app").empty()) << n->name();
  }
}

}  // namespace

// B and C have no route to each other (refused), then a route that drops everything silently
// (hangs). A push to B reaches C through A, and the test prints the cost of the extra hop next
// to the direct one.
TEST(Networks, APushCrossesARelayAndASilentLinkWithoutDivergence) {
  ProxiedTrio t("net-line");
  t.start_and_pair_proxied();
  auto work = seeded_repo(t, t.b, "app");
  ASSERT_FALSE(::testing::Test::HasFailure());

  t.commit(work, "direct");
  auto direct = push_and_time(t, t.b, work, nullptr);
  ASSERT_GE(direct["carol"], 0);

  t.cut(t.b, t.c);
  ASSERT_TRUE(eventually(
      [&] { return peer_reach(t.c, "bob") == "relay" && peer_reach(t.b, "carol") == "relay"; },
      kReplicate))
      << pairing_report({&t.a, &t.b, &t.c});
  t.commit(work, "relayed");
  auto relayed = push_and_time(t, t.b, work, nullptr);
  EXPECT_GE(relayed["alice"], 0);
  EXPECT_GE(relayed["carol"], 0) << "bob's push did not reach carol through alice";

  t.heal(t.b, t.c);
  ASSERT_TRUE(eventually([&] { return peer_reach(t.c, "bob") == "direct"; }, kReplicate));
  t.blackhole(t.b, t.c);
  // Until the link's heartbeats time out it still looks direct; the steady state is wanted.
  ASSERT_TRUE(eventually([&] { return peer_reach(t.c, "bob") != "direct"; }, kReplicate))
      << pairing_report({&t.a, &t.b, &t.c});
  t.commit(work, "silent");
  auto silent = push_and_time(t, t.b, work, nullptr);
  EXPECT_GE(silent["carol"], 0) << "bob's push did not reach carol past the silent link";

  std::printf(
      "push to bob -> carol: direct %ld ms; through alice (bob-carol refused) %ld ms, "
      "alice %ld ms, extra hop %+ld ms; bob-carol dropping silently %ld ms\n",
      direct["carol"], relayed["carol"], relayed["alice"], relayed["carol"] - relayed["alice"],
      silent["carol"]);
  expect_no_divergence(t);
}

// Carol's new connections to bob hang (accepted, never answered) while the link they already
// have keeps working, so bob still looks linked. Carol fetches bob's push from him first; that
// fetch hangs, and once alice has fetched the push and acknowledged it, carol stops waiting
// and takes the objects from alice instead of sitting out the hung fetch's bound.
TEST(Networks, AHungFetchIsGivenUpWhenALinkedMemberHasTheObjects) {
  ProxiedTrio t("net-hung");
  t.start_and_pair_proxied();
  auto work = seeded_repo(t, t.b, "app");
  ASSERT_FALSE(::testing::Test::HasFailure());

  t.proxy(t.c, t.b).hold_new();
  // Alice's fetch from bob is slowed down, so that carol's job surely starts with bob (the
  // push's origin) before alice's acknowledgement makes her the first choice.
  t.proxy(t.a, t.b).throttle(64 * 1024);
  ASSERT_EQ(peer_reach(t.c, "bob"), "direct");
  t.commit(work, "hung");
  auto ms = push_and_time(t, t.b, work, nullptr);
  EXPECT_GE(ms["alice"], 0);
  EXPECT_GE(ms["carol"], 0) << "bob's push did not reach carol";
  EXPECT_FALSE(log_lines_with(t.c, "gave up waiting for the fetch from bob").empty())
      << log_text(t.c);
  EXPECT_EQ(peer_reach(t.c, "bob"), "direct");  // the link was never the problem
  std::printf("push to bob with carol's fetches from bob hanging: alice %ld ms, carol %ld ms\n",
              ms["alice"], ms["carol"]);
  t.heal_all();
  expect_no_divergence(t);
}

// Carol accepts no inbound connection (nobody can dial her; she dials both). Her pushes still
// reach everyone: she sends the objects over connections she opens herself.
TEST(Networks, AnOutboundOnlyNodesPushesReachEveryone) {
  ProxiedTrio t("net-outbound");
  t.start_and_pair_proxied();
  auto work = seeded_repo(t, t.a, "app");
  ASSERT_FALSE(::testing::Test::HasFailure());

  t.proxy(t.a, t.c).cut();
  t.proxy(t.b, t.c).cut();
  // Carol's own links to both come back (she dials them).
  ASSERT_TRUE(eventually(
      [&] {
        return linked_peers(t.c) == std::set<std::string>{"alice", "bob"};
      },
      kReplicate))
      << pairing_report({&t.a, &t.b, &t.c});

  t.commit(work, "from-carol");
  std::string said;
  auto out = push_and_time(t, t.c, work, &said);
  EXPECT_GE(out["alice"], 0) << "carol's push never reached alice";
  EXPECT_GE(out["bob"], 0) << "carol's push never reached bob";
  // The objects went over connections carol opened, and her push says so.
  EXPECT_FALSE(log_lines_with(t.c, "sent the objects").empty()) << log_text(t.c);
  EXPECT_NE(said.find("replicated to 3/3 nodes"), std::string::npos) << said;

  // And the other way round: alice's push reaches carol, who fetches over her own dial.
  t.commit(work, "to-carol");
  auto in = push_and_time(t, t.a, work, nullptr);
  EXPECT_GE(in["carol"], 0);
  std::printf("carol (outbound only) -> alice %ld ms, -> bob %ld ms; alice -> carol %ld ms\n",
              out["alice"], out["bob"], in["carol"]);
  expect_no_divergence(t);
}

// A member that joins late replays the whole history of refs events at once; every update in
// it is contained in the next, so none of it is a divergence (the issue saw 16 "diverged ...
// parked" warnings for a clean history).
TEST(Networks, ANewMemberReplayingACleanHistoryReportsNoDivergence) {
  Trio t("net-replay");
  for (Node* n : {&t.a, &t.b}) ASSERT_EQ(n->start().exit, 0);
  ASSERT_EQ(t.b.mesh({"join", invite(t.a)}).exit, 0);
  ASSERT_TRUE(
      eventually([&] { return up_peers(t.a) == std::set<std::string>{"bob"}; }, kReplicate));
  auto work = t.make_repo("app", 1);
  std::string tip;
  for (int i = 0; i < 12; ++i) {
    Node& to = i % 2 ? t.b : t.a;  // alternating nodes, each push on top of the last
    tip = t.commit(work, "h" + std::to_string(i));
    ASSERT_EQ(t.git_to(to, {"push", "-q", Trio::https(to, "app"), "main"}, work).exit, 0);
    ASSERT_TRUE(eventually(
        [&] { return mirror_main(t, t.a, "app") == tip && mirror_main(t, t.b, "app") == tip; },
        kReplicate));
  }
  ASSERT_EQ(t.c.start().exit, 0);
  ASSERT_EQ(t.c.mesh({"join", invite(t.b)}).exit, 0);
  EXPECT_TRUE(eventually([&] { return mirror_main(t, t.c, "app") == tip; }, kReplicate));
  for (Node* n : t.all()) {
    EXPECT_TRUE(log_lines_with(*n, "diverged").empty()) << n->name() << ":\n" << log_text(*n);
    EXPECT_TRUE(divergences_of(*n, "app").empty()) << n->name();
  }
}
