// Push -> a node reached only through a relay, next to push -> a directly linked node, in the
// same run (issue #16; goal: ratio <= 1.5). Three real daemons whose connections go through TCP
// proxies (tests/integration/proxied_trio.hpp); bob and carol cannot reach each other, alice
// links both. Each sample pushes a new commit to bob with the real git client and times, from
// the moment the push starts, until alice's mirror (direct) and carol's (through alice) have
// it; the mirrors' loose refs are read straight from disk every ~1 ms. Figures only.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "proxied_trio.hpp"

using namespace mesh::test;
using namespace mesh::bench;
using namespace std::chrono_literals;

namespace {
constexpr int kSamples = 15;
}  // namespace

TEST(ReplRelayBench, PushToAFarNodeThroughOneRelayAgainstADirectLink) {
  ProxiedTrio t("bench-relay");
  t.start_and_pair_proxied();
  auto work = seeded_repo(t, t.b, "app");
  ASSERT_FALSE(::testing::Test::HasFailure());
  t.cut(t.b, t.c);
  ASSERT_TRUE(eventually(
      [&] { return peer_reach(t.c, "bob") == "relay" && peer_reach(t.b, "carol") == "relay"; }, 60s));

  std::vector<double> direct, relayed;
  for (int i = 0; i < kSamples; ++i) {
    const std::string want = t.commit(work, "s" + std::to_string(i));
    std::atomic<bool> pushed{false};
    const auto t0 = Clock::now();
    std::thread push([&] {
      EXPECT_EQ(t.git_to(t.b, {"push", "-q", Trio::https(t.b, "app"), "main"}, work).exit, 0);
      pushed = true;
    });
    std::optional<double> at_a, at_c;
    const auto deadline = t0 + 60s;
    while ((!at_a || !at_c) && Clock::now() < deadline) {
      if (!at_a && mirror_main(t.a, "app") == want) at_a = ms_between(t0, Clock::now());
      if (!at_c && mirror_main(t.c, "app") == want) at_c = ms_between(t0, Clock::now());
      std::this_thread::sleep_for(1ms);
    }
    push.join();
    ASSERT_TRUE(at_a && at_c) << "sample " << i << " did not reach both within 60 s";
    direct.push_back(*at_a);
    relayed.push_back(*at_c);
  }
  const double d = median(direct), r = median(relayed);
  std::printf(
      "push to bob -> alice (direct) p50 %.1f ms, -> carol (through alice) p50 %.1f ms: ratio "
      "%.2f (goal <= 1.5); p90 %.1f vs %.1f ms; %d samples\n",
      d, r, r / d, percentile(direct, 90), percentile(relayed, 90), kSamples);
}
