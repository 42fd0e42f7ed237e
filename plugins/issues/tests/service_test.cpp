// The Service around the board: the journal and the cursor across restarts (and the rebuild
// when the journal is gone or damaged), the membership check, deferred deliveries, waiters for
// this node's own ops, numbers claimed in flight, refusal logging.
#include <gtest/gtest.h>

#include <fstream>

#include "glue_util.hpp"
#include "ids.hpp"
#include "query.hpp"

namespace mesh::issues {
namespace {

using test::Loop;
using test::TempDir;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

TEST(Service, JournalAndCursorSurviveARestart) {
  TempDir dir;
  Loop loop;
  std::string cursor = loop.service->open(dir.path());
  EXPECT_TRUE(cursor.starts_with("issues-board-")) << cursor;
  EXPECT_EQ(read_file(dir.path() / "cursor"), cursor);
  std::string id = loop.create("Crash on start", {"bug"});
  ASSERT_NE(loop.issue(id), nullptr);
  EXPECT_FALSE(loop.service->glue_stats().rebuilding) << "a first start has nothing to rebuild";

  // A restart replays the journal under the same cursor: the host delivers only what is new.
  loop.reset();
  EXPECT_EQ(loop.service->open(dir.path()), cursor);
  ASSERT_NE(loop.issue(id), nullptr);
  EXPECT_EQ(loop.issue(id)->title.value, "Crash on start");
  EXPECT_EQ(loop.service->glue_stats().replayed, 1u);
  EXPECT_FALSE(loop.service->glue_stats().rebuilding);
}

TEST(Service, AMissingOrDamagedJournalMeansANewCursorAndARebuild) {
  TempDir dir;
  Loop loop;
  std::string first = loop.service->open(dir.path());
  loop.create("one");

  std::filesystem::remove(dir.path() / "journal");
  loop.reset();
  std::string second = loop.service->open(dir.path());
  EXPECT_NE(second, first) << "the old cursor has moved past every event: it must not be reused";
  EXPECT_TRUE(loop.service->glue_stats().rebuilding);
  EXPECT_EQ(loop.service->read([](const Board& b) { return b.stats().issues; }), 0u);

  // A damaged header: unusable, deleted, rebuilt under yet another cursor.
  { std::ofstream(dir.path() / "journal", std::ios::trunc) << "not a journal at all"; }
  loop.reset();
  std::string third = loop.service->open(dir.path());
  EXPECT_NE(third, second);
  EXPECT_NE(third, first);
  bool logged = false;
  for (const auto& l : loop.logs) logged = logged || l.find("unusable") != std::string::npos;
  EXPECT_TRUE(logged);

  // A damaged cursor file with a journal: the journal cannot be trusted either.
  { std::ofstream(dir.path() / "cursor", std::ios::trunc) << "NOT A NAME\n"; }
  loop.reset();
  EXPECT_NE(loop.service->open(dir.path()), third);
}

TEST(Service, OpsFromNonMembersAreRefusedLoggedAndNotJournaled) {
  TempDir dir;
  Loop loop;
  loop.service->open(dir.path());
  std::string id = loop.create("mine");
  test::Node stranger("mesh:stranger");
  Op c = test::issue_op(Kind::comment, "app", id);
  c.body = "let me in";
  EXPECT_TRUE(loop.service->on_event(stranger.publish(c).view())) << "acknowledged, not retried";
  EXPECT_TRUE(loop.issue(id)->comments.empty());
  EXPECT_EQ(loop.service->glue_stats().non_member, 1u);
  bool logged = false;
  for (const auto& l : loop.logs) {
    logged = logged || (l.find("mesh:stranger") != std::string::npos &&
                        l.find("not a member") != std::string::npos);
  }
  EXPECT_TRUE(logged);

  // A member's op is taken; a member removed since no longer counts.
  test::Node bob("mesh:bob");
  EXPECT_TRUE(loop.service->on_event(bob.publish(c).view()));
  EXPECT_EQ(loop.issue(id)->comments.size(), 1u);
  loop.members.pop_back();  // carol is removed (a roster event)
  loop.service->forget_members();
  test::Node carol("mesh:carol");
  EXPECT_TRUE(loop.service->on_event(carol.publish(c).view()));
  EXPECT_EQ(loop.issue(id)->comments.size(), 1u);

  // Nothing of the refused ops is in the journal: a restart has bob's comment only.
  loop.reset();
  loop.service->open(dir.path());
  EXPECT_EQ(loop.issue(id)->comments.size(), 1u);
}

TEST(Service, WithoutAMemberListEveryOriginCounts) {
  Loop loop;
  loop.members_known = false;
  std::string id = loop.create("x");
  test::Node anyone("mesh:anyone");
  Op c = test::issue_op(Kind::comment, "app", id);
  c.body = "hi";
  EXPECT_TRUE(loop.service->on_event(anyone.publish(c).view()));
  EXPECT_EQ(loop.issue(id)->comments.size(), 1u);
}

TEST(Service, AFullWaitingRoomDefersAndTheRetryIsTaken) {
  WaitingLimits small;
  small.per_origin_repo = 2;
  Loop loop(small);
  test::Node bob("mesh:bob");
  Op c = test::issue_op(Kind::comment, "app", op_id("mesh:carol", 1));
  c.body = "early";
  EXPECT_TRUE(loop.service->on_event(bob.publish(c).view()));
  EXPECT_TRUE(loop.service->on_event(bob.publish(c).view()));
  auto third = bob.publish(c);
  EXPECT_FALSE(loop.service->on_event(third.view())) << "deferred: MESH_EVENT_RETRY";
  // The create arrives, the two waiting comments apply, and the retried one is taken too.
  test::Node carol("mesh:carol");
  EXPECT_TRUE(loop.service->on_event(carol.publish(test::create_op("app", 1, "late")).view()));
  EXPECT_TRUE(loop.service->on_event(third.view()));
  EXPECT_EQ(loop.issue(op_id("mesh:carol", 1))->comments.size(), 3u);
}

TEST(Service, ThisNodesOwnQuotaIsAClearErrorAndPublishesNothing) {
  Loop loop;
  loop.service = std::make_unique<Service>(
      loop.hooks(), loop.self, [] { return 1ull; }, WaitingLimits{}, MemberLimits{1, 1, 1 << 20});
  loop.actions = std::make_unique<Actions>(*loop.service, [](const std::string&) { return true; });
  std::string id = loop.create("the one");
  ASSERT_NE(loop.issue(id), nullptr);
  ActionResult r = loop.actions->create("app", "one too many", "", {});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error,
            "this member has reached its limit of 1 issues (max_issues_per_member), a setting of "
            "[plugins.issues]; every node refuses more");
  EXPECT_TRUE(loop.queue.empty()) << "nothing published";
  EXPECT_TRUE(loop.actions->comment("app", id, "first").ok);
  loop.pump();
  EXPECT_FALSE(loop.actions->comment("app", id, "second").ok);
  EXPECT_TRUE(loop.actions->edit("app", id, "renamed", std::nullopt).ok) << "edits cost bytes only";
}

TEST(Service, WaitersHearOfTheirOpOnceTaken) {
  Loop loop;
  ActionResult r = loop.actions->create("app", "Waits", "", {});
  ASSERT_TRUE(r.ok) << r.error;
  std::vector<Taken> heard;
  loop.service->when_taken(r.last_seq, Service::Clock::now() + std::chrono::hours(1),
                           [&](Taken t) { heard.push_back(t); });
  EXPECT_TRUE(heard.empty()) << "not back through the feed yet";
  loop.pump();
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_TRUE(heard[0].taken);
  EXPECT_EQ(heard[0].outcome, Outcome::applied);

  // Registered after the op came back: answered at once.
  loop.service->when_taken(r.last_seq, Service::Clock::now(), [&](Taken t) { heard.push_back(t); });
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_TRUE(heard[1].taken);

  // One that never comes back: the deadline answers it, not taken.
  ActionResult r2 = loop.actions->create("app", "Lost", "", {});
  loop.queue.clear();
  auto now = Service::Clock::now();
  loop.service->when_taken(r2.last_seq, now + std::chrono::seconds(5),
                           [&](Taken t) { heard.push_back(t); });
  loop.service->expire(now + std::chrono::seconds(1));
  EXPECT_EQ(heard.size(), 2u);
  loop.service->expire(now + std::chrono::seconds(6));
  ASSERT_EQ(heard.size(), 3u);
  EXPECT_FALSE(heard[2].taken);
}

TEST(Service, ARefusedOwnOpReachesItsWaiterWithTheReason) {
  Loop loop;
  std::string id = loop.create("x");
  // An op the planner would never build (a comment edit of nobody's comment), published raw.
  std::uint64_t seq = 0;
  std::string err;
  Op bad = test::issue_op(Kind::edit_comment, "app", id);
  bad.comment = op_id("mesh:bob", 9);
  bad.body = "edited";
  loop.hooks().publish(encode_op(bad), &seq, &err);
  Taken got;
  loop.service->when_taken(seq, Service::Clock::now() + std::chrono::hours(1),
                           [&](Taken t) { got = t; });
  loop.pump();
  EXPECT_TRUE(got.taken);
  EXPECT_EQ(got.outcome, Outcome::refused);
  EXPECT_FALSE(got.problem.message.empty());
}

TEST(Service, CreatesInFlightClaimDifferentNumbers) {
  Loop loop;
  ActionResult a = loop.actions->create("app", "first", "", {});
  ActionResult b = loop.actions->create("app", "second", "", {});
  EXPECT_EQ(a.num, 1u);
  EXPECT_EQ(b.num, 2u) << "the first create has not come back yet, its number is still taken";
  loop.pump();
  auto refs = loop.service->read([&](const Board& board) {
    const Repo* r = board.repo("app");
    return std::vector<std::string>{display_ref(*r, *board.issue(a.id)),
                                    display_ref(*r, *board.issue(b.id))};
  });
  EXPECT_EQ(refs, (std::vector<std::string>{"#1", "#2"}));
}

TEST(Service, APublishFailureIsAnErrorAndNothingIsClaimed) {
  Loop loop;
  loop.publish_fails = true;
  ActionResult r = loop.actions->create("app", "x", "", {});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no gossip here"), std::string::npos) << r.error;
  loop.publish_fails = false;
  EXPECT_EQ(loop.actions->create("app", "y", "", {}).num, 1u);
}

TEST(Service, RefusalsAreLoggedWithOriginAndSeqButNotEndlessly) {
  Loop loop;
  test::Node bob("mesh:bob");
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(loop.service->on_event(bob.raw(R"({"v":1,"op":"teleport","repo":"app"})").view()));
  }
  std::size_t lines = 0;
  for (const auto& l : loop.logs) {
    if (l.find("refused op mesh:bob #") != std::string::npos) ++lines;
  }
  EXPECT_GE(lines, 1u);
  EXPECT_LE(lines, 20u) << "a flood of bad ops must not flood the log";
  EXPECT_EQ(loop.service->glue_stats().refusals_unlogged, 100u - lines);
  EXPECT_EQ(loop.service->read([](const Board& b) { return b.stats().refused; }), 100u);
  EXPECT_TRUE(loop.logs.front().find("#1 ") != std::string::npos ||
              loop.logs.front().find("#1:") != std::string::npos)
      << loop.logs.front();
}

TEST(Service, ChangesAreAnnouncedPerRepo) {
  Loop loop;
  std::string id = loop.create("x");
  ASSERT_EQ(loop.changed.size(), 1u);
  EXPECT_EQ(loop.changed[0], (std::pair<std::string, std::string>{"app", id}));
}

TEST(Service, BoardChannelsFitTheChannelGrammar) {
  EXPECT_EQ(board_channel("my-app"), "issues/my-app");
  EXPECT_EQ(board_channel("web.v2"), "issues/web.v2");
  std::string upper = board_channel("MyApp");
  EXPECT_TRUE(upper.starts_with("issues/.")) << upper;
  EXPECT_EQ(upper.size(), 8u + 32u);
  EXPECT_NE(board_channel("MyApp"), board_channel("Myapp"));
  EXPECT_TRUE(board_channel("a_b").starts_with("issues/."));
  std::string longest = board_channel(std::string(100, 'a'));
  EXPECT_LE(longest.size(), 128u);
  for (char c : board_channel("Some_Repo.Name-1")) {
    EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '/' ||
                c == '-')
        << c;
  }
}

}  // namespace
}  // namespace mesh::issues
