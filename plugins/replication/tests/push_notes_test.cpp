// PushNotes: a push waits for the lines of every provider that announced itself, no longer than
// its deadline, and not at all when nobody announced.
#include <gtest/gtest.h>

#include <thread>

#include "push_notes.hpp"

using namespace mesh::repl;
using namespace std::chrono_literals;

TEST(PushNotes, NobodyAnnouncedMeansNoWait) {
  PushNotes n;
  auto start = PushNotes::Clock::now();
  EXPECT_TRUE(n.collect("app", 7, 5s).empty());
  EXPECT_LT(PushNotes::Clock::now() - start, 1s);
}

TEST(PushNotes, WaitsForAnAnnouncedProviderAndKeepsItsLines) {
  PushNotes n;
  n.on_event(R"({"provider":"ci","ttl_ms":15000})");
  std::thread late([&] {
    std::this_thread::sleep_for(50ms);
    n.on_event(R"({"provider":"ci","repo":"app","clock":7,"lines":["CI run 3f2a queued","x\ty"]})");
  });
  auto lines = n.collect("app", 7, 10s);
  late.join();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "CI run 3f2a queued");
  EXPECT_EQ(lines[1], "x y");  // control characters never reach the pusher's terminal
  EXPECT_TRUE(n.collect("app", 7, 0ms).empty());  // taken once
}

TEST(PushNotes, AnEmptyAnswerEndsTheWaitAndTheDeadlineBoundsIt) {
  PushNotes n;
  n.on_event(R"({"provider":"ci","ttl_ms":15000})");
  n.on_event(R"({"provider":"ci","repo":"app","clock":8,"lines":[]})");
  EXPECT_TRUE(n.collect("app", 8, 10s).empty());
  auto start = PushNotes::Clock::now();
  EXPECT_TRUE(n.collect("app", 9, 100ms).empty());  // never answered
  EXPECT_GE(PushNotes::Clock::now() - start, 100ms);
  n.on_event("not json");
  n.on_event(R"({"provider":"ci","repo":"app","clock":"x","lines":[]})");
  n.on_event(R"({"repo":"app","clock":10,"lines":["no provider"]})");
  EXPECT_TRUE(n.collect("app", 10, 0ms).empty());
}

TEST(PushNotes, AnExpiredAnnouncementIsNotWaitedFor) {
  PushNotes n;
  n.on_event(R"({"provider":"ci","ttl_ms":0})");
  auto start = PushNotes::Clock::now();
  EXPECT_TRUE(n.collect("app", 1, 5s).empty());
  EXPECT_LT(PushNotes::Clock::now() - start, 1s);
}
