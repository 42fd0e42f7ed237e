#include "board.hpp"

#include <gtest/gtest.h>

#include <string>

#include "limits.hpp"
#include "query.hpp"
#include "test_util.hpp"

using namespace mesh::issues;
using namespace mesh::issues::test;

namespace {

struct BoardTest : ::testing::Test {
  Board board;
  Node a{"mesh:aaaa"}, b{"mesh:bbbb"}, c{"mesh:cccc"};

  ApplyResult deliver(const StoredEvent& e) {
    a.observe(e.lamport);
    b.observe(e.lamport);
    c.observe(e.lamport);
    return board.apply(e.view());
  }
  // Creates an issue on `n` and delivers it; returns its id.
  std::string create(Node& n, const std::string& title, std::uint64_t num = 1) {
    StoredEvent e = n.publish(create_op("my-app", num, title));
    EXPECT_EQ(deliver(e).outcome, Outcome::applied);
    return e.id();
  }
  const Issue& get(const std::string& id) {
    const Issue* i = board.issue(id);
    EXPECT_TRUE(i);
    static const Issue empty;
    return i ? *i : empty;
  }
};

Op title_op(const std::string& id, std::string title) {
  Op op = issue_op(Kind::edit_title, "my-app", id);
  op.title = std::move(title);
  return op;
}

}  // namespace

TEST_F(BoardTest, CreateThenEditFields) {
  StoredEvent ev = a.publish(create_op("my-app", 1, "Crash on start", "a0", {"bug"}));
  ApplyResult r = deliver(ev);
  ASSERT_EQ(r.outcome, Outcome::applied);
  EXPECT_EQ(r.repo, "my-app");
  EXPECT_EQ(r.issue, ev.id());
  const Issue& i = get(ev.id());
  EXPECT_EQ(i.title.value, "Crash on start");
  EXPECT_EQ(i.author, "mesh:aaaa");
  EXPECT_EQ(i.labels.values(), std::vector<std::string>{"bug"});
  EXPECT_EQ(i.state.value.state, State::open);

  Op body = issue_op(Kind::edit_body, "my-app", ev.id());
  body.body = "details";
  EXPECT_EQ(deliver(b.publish(body)).outcome, Outcome::applied);
  Op close = issue_op(Kind::set_state, "my-app", ev.id());
  close.state = State::closed;
  close.commit = std::string(40, 'e');
  auto closed = b.publish(close);
  EXPECT_EQ(deliver(closed).outcome, Outcome::applied);
  EXPECT_EQ(i.body.value, "details");
  EXPECT_EQ(i.state.value.state, State::closed);
  EXPECT_EQ(i.state.value.commit, std::string(40, 'e'));
  EXPECT_EQ(i.updated_ms, closed.wall_ms);
  EXPECT_EQ(board.stats().applied, 3u);
}

TEST_F(BoardTest, LastWriterWinsByLamportThenOrigin) {
  std::string id = create(a, "t");
  // Concurrent: same Lamport clock on a and b; b's origin sorts higher, so b wins everywhere.
  StoredEvent ea = a.publish(title_op(id, "from a"));
  StoredEvent eb = b.publish(title_op(id, "from b"));
  ASSERT_EQ(ea.lamport, eb.lamport);
  deliver(eb);
  deliver(ea);
  EXPECT_EQ(get(id).title.value, "from b");
  // A later edit (higher clock) beats both, whoever makes it.
  StoredEvent later = a.publish(title_op(id, "later"));
  ASSERT_GT(later.lamport, eb.lamport);
  deliver(later);
  EXPECT_EQ(get(id).title.value, "later");
  // An op with a stale clock loses (it is still applied: nothing to refuse).
  StoredEvent stale{"mesh:cccc", 1, 1, 1, encode_op(title_op(id, "stale"))};
  EXPECT_EQ(board.apply(stale.view()).outcome, Outcome::applied);
  EXPECT_EQ(get(id).title.value, "later");
}

TEST_F(BoardTest, ObservedRemoveKeepsConcurrentAdds) {
  std::string id = create(a, "t");
  Op add = issue_op(Kind::add_label, "my-app", id);
  add.value = "bug";
  StoredEvent add_a = a.publish(add);
  deliver(add_a);
  // b removes what it observed (a's add) while c concurrently adds "bug" again.
  Op remove = issue_op(Kind::remove_label, "my-app", id);
  remove.value = "bug";
  remove.tags = get(id).labels.tags("bug");
  ASSERT_EQ(remove.tags, std::vector<std::string>{add_a.id()});
  StoredEvent rm_b = b.publish(remove);
  StoredEvent add_c = c.publish(add);
  deliver(rm_b);
  EXPECT_FALSE(get(id).labels.contains("bug"));
  deliver(add_c);
  EXPECT_TRUE(get(id).labels.contains("bug")) << "c's add was not observed by the remove";
  EXPECT_EQ(get(id).labels.tags("bug"), std::vector<std::string>{add_c.id()});
}

TEST_F(BoardTest, RemoveBeforeItsAddStillWins) {
  std::string id = create(a, "t");
  Op add = issue_op(Kind::assign, "my-app", id);
  add.value = "alice";
  StoredEvent add_a = a.publish(add);
  Op remove = issue_op(Kind::unassign, "my-app", id);
  remove.value = "alice";
  remove.tags = {add_a.id()};
  StoredEvent rm_b = b.publish(remove);  // b saw the add; this node gets the remove first
  deliver(rm_b);
  deliver(add_a);
  EXPECT_FALSE(get(id).assignees.contains("alice"));
  // A remove naming the tag under another value does not touch this one.
  Op add2 = issue_op(Kind::add_label, "my-app", id);
  add2.value = "bug";
  StoredEvent e2 = a.publish(add2);
  deliver(e2);
  Op wrong = issue_op(Kind::remove_label, "my-app", id);
  wrong.value = "feature";
  wrong.tags = {e2.id()};
  deliver(b.publish(wrong));
  EXPECT_TRUE(get(id).labels.contains("bug"));
}

TEST_F(BoardTest, CommentsAppendAndOnlyTheirAuthorEdits) {
  std::string id = create(a, "t");
  Op comment = issue_op(Kind::comment, "my-app", id);
  comment.body = "first";
  StoredEvent c1 = b.publish(comment);
  comment.body = "second";
  StoredEvent c2 = c.publish(comment);
  deliver(c2);
  deliver(c1);
  auto ordered = comments_in_order(get(id));
  ASSERT_EQ(ordered.size(), 2u);
  EXPECT_EQ(ordered[0]->body.value, "first");  // same Lamport clock: origin b before c
  EXPECT_EQ(ordered[1]->body.value, "second");

  Op edit = issue_op(Kind::edit_comment, "my-app", id);
  edit.comment = c1.id();
  edit.body = "first, edited";
  StoredEvent by_author = b.publish(edit);
  EXPECT_EQ(deliver(by_author).outcome, Outcome::applied);
  EXPECT_EQ(get(id).comments.at(c1.id()).body.value, "first, edited");
  EXPECT_EQ(get(id).comments.at(c1.id()).edited_ms, by_author.wall_ms);

  edit.body = "hijacked";
  ApplyResult r = deliver(a.publish(edit));
  EXPECT_EQ(r.outcome, Outcome::refused);
  EXPECT_EQ(r.problem.reason, "comment");
  EXPECT_EQ(r.problem.message, "issue " + id + " has no comment " + c1.id() +
                                   " by mesh:aaaa (only its author may edit a comment)");
  EXPECT_EQ(get(id).comments.at(c1.id()).body.value, "first, edited");

  edit.comment = std::string(32, 'f');
  EXPECT_EQ(deliver(b.publish(edit)).problem.reason, "comment");
  EXPECT_EQ(board.stats().refused_by_reason.at("comment"), 2u);
}

TEST_F(BoardTest, AnOpBeforeItsCreateWaitsAndIsApplied) {
  StoredEvent create_ev = a.publish(create_op("my-app", 1, "t"));
  const std::string id = create_ev.id();
  b.observe(create_ev.lamport);
  // b saw the create (it is in b's view) and edited; this node gets b's ops first.
  Op comment = issue_op(Kind::comment, "my-app", id);
  comment.body = "hello";
  StoredEvent com = b.publish(comment);
  Op edit = issue_op(Kind::edit_comment, "my-app", id);
  edit.comment = com.id();
  edit.body = "hello, edited";
  StoredEvent ed = b.publish(edit);
  StoredEvent ti = b.publish(title_op(id, "renamed"));
  EXPECT_EQ(deliver(com).outcome, Outcome::pending);
  EXPECT_EQ(deliver(ed).outcome, Outcome::pending);
  ApplyResult r = deliver(ti);
  EXPECT_EQ(r.outcome, Outcome::pending);
  EXPECT_EQ(r.issue, id);
  EXPECT_FALSE(board.issue(id));
  ASSERT_EQ(board.pending().size(), 1u);
  EXPECT_EQ(board.pending()[0].count, 3u);
  EXPECT_EQ(board.pending()[0].origin, "mesh:bbbb");
  EXPECT_EQ(board.pending()[0].waiting_for, id);

  ApplyResult created = deliver(create_ev);
  EXPECT_EQ(created.outcome, Outcome::applied);
  EXPECT_EQ(created.released, 3u);
  EXPECT_TRUE(created.released_refused.empty());
  EXPECT_EQ(get(id).title.value, "renamed");
  EXPECT_EQ(get(id).comments.at(com.id()).body.value, "hello, edited");
  EXPECT_TRUE(board.pending().empty());
  EXPECT_EQ(board.stats().pending, 0u);
}

TEST_F(BoardTest, WaitingOpsForTheWrongRepoAreRefusedWhenTheCreateComes) {
  StoredEvent create_ev = a.publish(create_op("my-app", 1, "t"));
  Op op = title_op(create_ev.id(), "x");
  op.repo = "other";
  deliver(b.publish(op));
  ApplyResult r = deliver(create_ev);
  ASSERT_EQ(r.released_refused.size(), 1u);
  EXPECT_EQ(r.released_refused[0].problem.reason, "repo");
  EXPECT_EQ(get(create_ev.id()).title.value, "t");
}

TEST_F(BoardTest, OpsNamingSomethingThatIsNoIssueAreRefused) {
  std::string id = create(a, "t");
  Op comment = issue_op(Kind::comment, "my-app", id);
  comment.body = "c";
  StoredEvent com = a.publish(comment);
  // b names the comment as if it were an issue: before and after the comment arrives.
  StoredEvent early = b.publish(title_op(com.id(), "x"));
  EXPECT_EQ(deliver(early).outcome, Outcome::pending);
  ApplyResult r = deliver(com);
  EXPECT_EQ(r.outcome, Outcome::applied);
  ASSERT_EQ(r.released_refused.size(), 1u);
  EXPECT_EQ(r.released_refused[0].problem.reason, "issue");
  EXPECT_EQ(deliver(b.publish(title_op(com.id(), "y"))).outcome, Outcome::refused);
  // A refused event's id is no issue either.
  StoredEvent junk = c.raw("not json");
  EXPECT_EQ(deliver(junk).outcome, Outcome::refused);
  EXPECT_EQ(deliver(b.publish(title_op(junk.id(), "z"))).problem.reason, "issue");
  EXPECT_EQ(board.stats().pending, 0u);
}

TEST_F(BoardTest, BadOpsAreRefusedAndNeverStopTheRebuild) {
  std::string id = create(a, "t");
  std::vector<StoredEvent> bad = {
      b.raw("not json"),
      b.raw(R"({"v":1,"op":"teleport","repo":"my-app","issue":")" + id + "\"}"),
      b.raw(R"({"v":9,"op":"create"})"),
      b.raw(std::string(70000, ' ')),
      b.raw(R"({"v":1,"op":"edit_title","repo":"my-app","issue":")" + id + R"(","title":""})"),
  };
  std::vector<std::string> reasons;
  for (const auto& e : bad) {
    ApplyResult r = deliver(e);
    EXPECT_EQ(r.outcome, Outcome::refused);
    reasons.push_back(r.problem.reason);
  }
  EXPECT_EQ(reasons, (std::vector<std::string>{"malformed", "kind", "version", "size", "title"}));
  EXPECT_EQ(deliver(b.publish(title_op(id, "still works"))).outcome, Outcome::applied);
  EXPECT_EQ(get(id).title.value, "still works");
  EXPECT_EQ(board.stats().refused, 5u);
  ASSERT_EQ(board.recent_refusals().size(), 5u);
  EXPECT_EQ(board.recent_refusals().back().origin, "mesh:bbbb");
  EXPECT_EQ(board.recent_refusals().front().problem.reason, "malformed");
}

TEST_F(BoardTest, DuplicatesChangeNothing) {
  StoredEvent e = a.publish(create_op("my-app", 1, "t"));
  EXPECT_EQ(deliver(e).outcome, Outcome::applied);
  EXPECT_EQ(deliver(e).outcome, Outcome::duplicate);
  EXPECT_EQ(board.stats().issues, 1u);
  EXPECT_EQ(board.stats().duplicates, 1u);
}

TEST(BoardLimits, TheWaitingRoomIsBoundedPerOriginAndRepo) {
  Board board(WaitingLimits{4, 100, 1 << 20});
  Node b("mesh:bbbb"), c("mesh:cccc");
  const std::string ghost = std::string(32, 'd');  // a create that has not arrived
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(board.apply(b.publish(title_op(ghost, "x")).view()).outcome, Outcome::pending);
  }
  StoredEvent over = b.publish(title_op(ghost, "over"));
  ApplyResult r = board.apply(over.view());
  EXPECT_EQ(r.outcome, Outcome::deferred);
  EXPECT_EQ(r.problem.reason, "waiting");
  EXPECT_EQ(r.problem.message,
            "4 ops from mesh:bbbb for repo my-app already wait for their issues; this one is "
            "deferred");
  // Deferred means not taken: the same event is considered again, not as a duplicate.
  EXPECT_EQ(board.apply(over.view()).outcome, Outcome::deferred);
  // Another repo of the same origin, and other origins, still have room.
  Op other = title_op(ghost, "other repo");
  other.repo = "web";
  EXPECT_EQ(board.apply(b.publish(other).view()).outcome, Outcome::pending);
  EXPECT_EQ(board.apply(c.publish(title_op(ghost, "c")).view()).outcome, Outcome::pending);
  BoardStats st = board.stats();
  EXPECT_EQ(st.deferred, 2u);
  EXPECT_EQ(st.pending, 6u);
  EXPECT_EQ(st.pending_peak, 6u);
  auto groups = board.pending();
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].origin, "mesh:bbbb");
  EXPECT_EQ(groups[0].repo, "my-app");
  EXPECT_EQ(groups[0].count, 4u);
  EXPECT_EQ(groups[0].waiting_for, ghost);
}

TEST(BoardLimits, TheWaitingRoomIsBoundedInTotalAndInBytes) {
  Board board(WaitingLimits{100, 5, 1 << 20});
  const std::string ghost = std::string(32, 'd');
  for (int i = 0; i < 5; ++i) {
    Node n("mesh:n" + std::to_string(i));
    ASSERT_EQ(board.apply(n.publish(title_op(ghost, "x")).view()).outcome, Outcome::pending);
  }
  Node a("mesh:aaaa");
  ApplyResult r = board.apply(a.publish(title_op(ghost, "y")).view());
  EXPECT_EQ(r.outcome, Outcome::deferred);
  EXPECT_EQ(r.problem.message, "5 ops already wait for their issues; this one is deferred");
  // A create is never deferred.
  EXPECT_EQ(board.apply(a.publish(create_op("my-app", 1, "t")).view()).outcome, Outcome::applied);

  Board small(WaitingLimits{100, 100, 3000});
  Op big = issue_op(Kind::comment, "my-app", ghost);
  big.body = std::string(2000, 'x');
  EXPECT_EQ(small.apply(a.publish(big).view()).outcome, Outcome::pending);
  r = small.apply(a.publish(big).view());
  EXPECT_EQ(r.outcome, Outcome::deferred);
  EXPECT_NE(r.problem.message.find("bytes already"), std::string::npos) << r.problem.message;
  EXPECT_GT(small.stats().pending_bytes, 2000u);
}

TEST(BoardLimits, DefaultsFitARebuild) {
  WaitingLimits d;
  EXPECT_EQ(d.per_origin_repo, kMaxWaitingPerOriginRepo);
  EXPECT_EQ(d.total, kMaxWaitingTotal);
  EXPECT_LE(2 * d.per_origin_repo, d.total) << "one origin gets at most half the room";
}

TEST(BoardLimits, EachMemberIsChargedForWhatItMakesEveryNodeKeep) {
  Board board(WaitingLimits{}, MemberLimits{2, 1, 1 << 20});
  Node a("mesh:aaaa"), b("mesh:bbbb");
  StoredEvent one = a.publish(create_op("my-app", 1, "one"));
  ASSERT_EQ(board.apply(one.view()).outcome, Outcome::applied);
  ASSERT_EQ(board.apply(a.publish(create_op("my-app", 2, "two")).view()).outcome, Outcome::applied);
  StoredEvent third = a.publish(create_op("my-app", 3, "three"));
  ApplyResult r = board.apply(third.view());
  EXPECT_EQ(r.outcome, Outcome::refused);
  EXPECT_EQ(r.problem.reason, "quota");
  EXPECT_EQ(r.problem.message,
            "mesh:aaaa has created 2 issues, the limit per member (max_issues_per_member)");
  // An op on the refused create is refused too, on every node: it is no issue.
  Op late = issue_op(Kind::edit_title, "my-app", third.id());
  late.title = "x";
  EXPECT_EQ(board.apply(a.publish(late).view()).outcome, Outcome::refused);
  // Another member has its own allowance; comments count separately.
  EXPECT_EQ(board.apply(b.publish(create_op("my-app", 3, "b's")).view()).outcome, Outcome::applied);
  Op c = issue_op(Kind::comment, "my-app", one.id());
  c.body = "first";
  EXPECT_EQ(board.apply(a.publish(c).view()).outcome, Outcome::applied);
  r = board.apply(a.publish(c).view());
  EXPECT_EQ(r.outcome, Outcome::refused);
  EXPECT_EQ(r.problem.reason, "quota");
  // Edits cost only bytes.
  Op t = issue_op(Kind::edit_title, "my-app", one.id());
  t.title = "renamed";
  EXPECT_EQ(board.apply(a.publish(t).view()).outcome, Outcome::applied);
  EXPECT_EQ(board.usage("mesh:aaaa").issues, 2u);
  EXPECT_EQ(board.usage("mesh:aaaa").comments, 1u);
  EXPECT_EQ(board.usage("mesh:bbbb").issues, 1u);
  EXPECT_EQ(board.stats().refused_by_reason.at("quota"), 2u);
  EXPECT_EQ(board.recent_refusals().back().origin, "mesh:aaaa");
  EXPECT_TRUE(board.quota_check("mesh:aaaa", 10, Kind::create));
  EXPECT_FALSE(board.quota_check("mesh:aaaa", 10, Kind::move));
}

TEST(BoardLimits, BytesAreChargedForEveryEventTakenAndWaitingOnesToo) {
  const std::string ghost = std::string(32, 'd');
  Op c = issue_op(Kind::comment, "my-app", ghost);
  c.body = std::string(400, 'x');
  const std::uint64_t comment_bytes = encode_op(c).size();
  const std::string junk = "{not json";
  // Room for exactly: a waiting comment, a malformed event, a second comment.
  Board board(WaitingLimits{}, MemberLimits{100, 100, 2 * comment_bytes + junk.size()});
  Node a("mesh:aaaa");
  EXPECT_EQ(board.apply(a.publish(c).view()).outcome, Outcome::pending);
  EXPECT_EQ(board.apply(a.raw(junk).view()).outcome, Outcome::refused);
  EXPECT_EQ(board.usage("mesh:aaaa").bytes, comment_bytes + junk.size());
  EXPECT_EQ(board.apply(a.publish(c).view()).outcome, Outcome::pending) << "fits exactly";
  Op t = issue_op(Kind::edit_title, "my-app", ghost);
  t.title = "t";
  ApplyResult r = board.apply(a.publish(t).view());
  EXPECT_EQ(r.outcome, Outcome::refused);
  EXPECT_EQ(r.problem.reason, "quota");
  EXPECT_NE(r.problem.message.find("max_bytes_per_member"), std::string::npos) << r.problem.message;
  EXPECT_EQ(board.usage("mesh:aaaa").bytes, 2 * comment_bytes + junk.size());
  // The refused event is taken (not deferred): seen again it is a duplicate.
  EXPECT_EQ(board.apply(EventIn{"mesh:aaaa", a.seq, a.clock, a.wall, encode_op(t)}).outcome,
            Outcome::duplicate);
}
