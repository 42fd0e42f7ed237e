#include "query.hpp"

#include <gtest/gtest.h>

#include <string>

#include "test_util.hpp"

using namespace mesh::issues;
using namespace mesh::issues::test;

namespace {

struct QueryTest : ::testing::Test {
  Board board;
  Node a{"mesh:aaaa"}, b{"mesh:bbbb"};

  std::string add(Node& n, std::uint64_t num, const std::string& title, const std::string& order,
                  std::vector<std::string> labels = {}) {
    StoredEvent e = n.publish(create_op("my-app", num, title, order, std::move(labels)));
    EXPECT_EQ(board.apply(e.view()).outcome, Outcome::applied);
    return e.id();
  }
  void close(Node& n, const std::string& id) {
    Op op = issue_op(Kind::set_state, "my-app", id);
    op.state = State::closed;
    EXPECT_EQ(board.apply(n.publish(op).view()).outcome, Outcome::applied);
  }
  std::vector<std::string> titles(const ListFilter& f) {
    std::vector<std::string> out;
    for (const auto& v : list_issues(board, "my-app", f)) out.push_back(v.title);
    return out;
  }
};

}  // namespace

TEST_F(QueryTest, ListsInBoardOrderWithFilters) {
  add(a, 1, "third", "a7");
  std::string first = add(a, 2, "first", "a1", {"bug"});
  add(a, 3, "second", "a3", {"bug", "ui"});
  add(a, 4, "fourth", "a9");
  close(a, first);
  EXPECT_EQ(titles({}), (std::vector<std::string>{"second", "third", "fourth"}));
  EXPECT_EQ(titles({StateFilter::all, ""}),
            (std::vector<std::string>{"first", "second", "third", "fourth"}));
  EXPECT_EQ(titles({StateFilter::closed, ""}), (std::vector<std::string>{"first"}));
  EXPECT_EQ(titles({StateFilter::all, "bug"}), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(titles({StateFilter::open, "ui"}), (std::vector<std::string>{"second"}));
  EXPECT_TRUE(titles({StateFilter::all, "nope"}).empty());
  EXPECT_TRUE(list_issues(board, "unknown-repo", {}).empty());
  EXPECT_EQ(parse_state_filter("closed"), StateFilter::closed);
  EXPECT_FALSE(parse_state_filter("Closed"));
}

TEST_F(QueryTest, EqualKeysAreOrderedByIssueId) {
  std::string x = add(a, 1, "x", "a5");
  std::string y = add(b, 2, "y", "a5");
  auto views = list_issues(board, "my-app", {});
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[0].id, std::min(x, y));
  EXPECT_EQ(views[1].id, std::max(x, y));
}

TEST_F(QueryTest, ShowHasTheBodyAndCommentsInOrder) {
  std::string id = add(a, 1, "t", "a1");
  for (const char* text : {"one", "two", "three"}) {
    Op c = issue_op(Kind::comment, "my-app", id);
    c.body = text;
    Node& n = text[1] == 'w' ? b : a;
    n.observe(std::max(a.clock, b.clock));  // each comment is made after the one before
    board.apply(n.publish(c).view());
  }
  Resolved r = resolve(board, "my-app", "#1");
  ASSERT_TRUE(r.issue) << r.problem.message;
  IssueView v = view_of(*board.repo("my-app"), *r.issue, true);
  ASSERT_EQ(v.comments.size(), 3u);
  EXPECT_EQ(v.comments[0].body, "one");
  EXPECT_EQ(v.comments[1].body, "two");
  EXPECT_EQ(v.comments[2].body, "three");
  EXPECT_EQ(v.comments[1].author, "mesh:bbbb");
  EXPECT_EQ(v.ref, "#1");
}

TEST_F(QueryTest, ResolvesNumbersAndIdPrefixes) {
  std::string id = add(a, 12, "twelve", "a1");
  for (const char* text : {"#12", "12", "+12"}) {
    Resolved r = resolve(board, "my-app", text);
    if (std::string(text) == "+12") {
      EXPECT_FALSE(r.issue);
      EXPECT_EQ(r.problem.reason, "id");
    } else {
      ASSERT_TRUE(r.issue) << text;
      EXPECT_EQ(r.issue->id, id);
    }
  }
  // A full-id prefix: at least 4 hex digits, not only digits.
  std::string prefix = id.substr(0, 6);
  bool digits_only = prefix.find_first_not_of("0123456789") == std::string::npos;
  if (!digits_only) {
    EXPECT_EQ(resolve(board, "my-app", prefix).issue, board.issue(id));
  }
  EXPECT_EQ(resolve(board, "my-app", id).issue, board.issue(id));
  std::string upper = id;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_EQ(resolve(board, "my-app", upper).issue, board.issue(id));
  EXPECT_EQ(resolve(board, "my-app", "#13").problem.message, "no issue #13 in my-app");
  EXPECT_EQ(resolve(board, "other", "#12").problem.reason, "not_found");
  EXPECT_EQ(resolve(board, "my-app", "abc").problem.reason, "id");  // too short
  EXPECT_EQ(resolve(board, "my-app", "#12-").problem.reason, "id");
  EXPECT_EQ(resolve(board, "my-app", "xyz123").problem.reason, "id");
  EXPECT_EQ(resolve(board, "my-app", std::string(100, 'a')).problem.reason, "id");
}

// Two nodes, partitioned, each create the next issue of the repo: both claim #3.
TEST_F(QueryTest, AConcurrentCollisionIsResolvedAndNoRefChangesMeaning) {
  std::string one = add(a, 1, "one", "a1");
  add(a, 2, "two", "a2");
  std::string from_a = add(a, 3, "a's three", "a3");
  // Before b's create arrives, a shows #3 for its issue.
  EXPECT_EQ(display_ref(*board.repo("my-app"), *board.issue(from_a)), "#3");
  EXPECT_EQ(resolve(board, "my-app", "#3").issue->id, from_a);

  std::string from_b = add(b, 3, "b's three", "a4");
  const Repo& repo = *board.repo("my-app");
  std::string ref_a = display_ref(repo, *board.issue(from_a));
  std::string ref_b = display_ref(repo, *board.issue(from_b));
  EXPECT_EQ(ref_a, "#3-" + from_a.substr(0, ref_a.size() - 3));
  EXPECT_EQ(ref_b, "#3-" + from_b.substr(0, ref_b.size() - 3));
  EXPECT_NE(ref_a, ref_b);
  EXPECT_GE(ref_a.size(), 7u);  // "#3-" + at least 4 hex digits

  // The bare "#3" never silently means b's issue now: it is ambiguous, naming both.
  Resolved bare = resolve(board, "my-app", "#3");
  EXPECT_FALSE(bare.issue);
  EXPECT_EQ(bare.problem.reason, "ambiguous");
  EXPECT_NE(bare.problem.message.find(ref_a), std::string::npos) << bare.problem.message;
  EXPECT_NE(bare.problem.message.find(ref_b), std::string::npos);
  // Each long form keeps meaning its issue, also typed without '#'.
  EXPECT_EQ(resolve(board, "my-app", ref_a).issue->id, from_a);
  EXPECT_EQ(resolve(board, "my-app", ref_b.substr(1)).issue->id, from_b);
  // Untouched numbers keep their bare form; the next create claims #4.
  EXPECT_EQ(display_ref(repo, *board.issue(one)), "#1");
  EXPECT_EQ(resolve(board, "my-app", "1").issue->id, one);
}

TEST_F(QueryTest, LabelAndAssigneeViewsAreCappedDeterministically) {
  std::string id = add(a, 1, "t", "a1");
  // 70 distinct labels from concurrent adds (each node below the cap when it added).
  for (int i = 0; i < 70; ++i) {
    Op op = issue_op(Kind::add_label, "my-app", id);
    op.value = "l" + std::to_string(100 + i);
    board.apply((i % 2 ? a : b).publish(op).view());
  }
  IssueView v = view_of(*board.repo("my-app"), *board.issue(id), false);
  EXPECT_EQ(v.labels.size(), 64u);
  EXPECT_TRUE(v.labels_truncated);
  EXPECT_EQ(v.labels.front(), "l100");
  EXPECT_EQ(v.labels.back(), "l163");
}
