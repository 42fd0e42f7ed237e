// The issues board on three real daemons (issue #14, docs/issues.md): ops made on different
// nodes while they are partitioned merge into one board on all three (different fields all
// kept, one value for a field edited on both sides, one order after concurrent moves, a
// number claimed twice shown as two long refs everywhere); a node that was offline catches up;
// "fixes #N" in a commit pushed to the default branch closes the issue, once, from the node
// that took the push; bad ops from a member are refused on every node with a visible record
// and nothing else stops; a member past its limit is refused the same way everywhere.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"
#include "proxied_trio.hpp"
#include "trio.hpp"

using namespace mesh::test;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr auto kConverge = 60s;

json::value issues_json(const Node& n, std::vector<std::string> args) {
  args.insert(args.begin(), "issues");
  return n.mesh_json(args);
}

Proc issues(const Node& n, std::vector<std::string> args) {
  args.insert(args.begin(), "issues");
  return n.mesh(args);
}

// The whole board of `repo` as n shows it: the list in board order, then every issue in full.
// Empty when a command failed (a node still starting, say).
std::string board_of(const Node& n, const std::string& repo) {
  auto list = n.mesh({"--json", "issues", "list", repo, "--state", "all"});
  if (list.exit != 0) return "";
  boost::system::error_code ec;
  auto v = json::parse(list.out, ec);
  if (ec || !v.is_array()) return "";
  std::string out = json::serialize(v) + "\n";
  for (const auto& i : v.as_array()) {
    auto show = n.mesh({"--json", "issues", "show", repo, std::string(i.at("id").as_string())});
    if (show.exit != 0) return "";
    out += show.out;
  }
  return out;
}

bool same_board_everywhere(Trio& t, const std::string& repo, std::string* board = nullptr) {
  std::string a = board_of(t.a, repo);
  bool same = !a.empty() && board_of(t.b, repo) == a && board_of(t.c, repo) == a;
  if (board) *board = a;
  return same;
}

// The issues of `repo` on n, as `list --json` gives them (board order).
json::array list_of(const Node& n, const std::string& repo) {
  auto v = issues_json(n, {"list", repo, "--state", "all"});
  return v.is_array() ? v.as_array() : json::array{};
}

json::object show_of(const Node& n, const std::string& repo, const std::string& id) {
  auto v = issues_json(n, {"show", repo, id});
  return v.is_object() ? v.as_object() : json::object{};
}

std::string str(const json::value& v, const char* key) {
  const auto* o = v.if_object();
  const auto* x = o ? o->if_contains(key) : nullptr;
  return x && x->is_string() ? std::string(x->as_string()) : "";
}

std::vector<std::string> strings(const json::value& v, const char* key) {
  std::vector<std::string> out;
  for (const auto& s : v.at(key).as_array()) out.emplace_back(s.as_string());
  return out;
}

// The id of the issue titled `title` in n's list; empty if none.
std::string id_titled(const Node& n, const std::string& repo, const std::string& title) {
  for (const auto& i : list_of(n, repo)) {
    if (str(i, "title") == title) return str(i, "id");
  }
  return "";
}

// `mesh status --json` on n: the issues plugin's section.
json::object issues_status(const Node& n) {
  auto v = n.mesh_json({"status"});
  const auto* o = v.if_object();
  const auto* s = o ? o->if_contains("issues") : nullptr;
  return s && s->is_object() ? s->as_object() : json::object{};
}

// The refusals n's board recorded for events of `origin` with this reason.
std::size_t refusals(const Node& n, const std::string& origin, const std::string& reason) {
  std::size_t count = 0;
  auto s = issues_status(n);
  if (!s.contains("recent_refusals")) return 0;
  for (const auto& r : s.at("recent_refusals").as_array()) {
    count += str(r, "origin") == origin && str(r, "reason") == reason;
  }
  return count;
}

std::string node_id(const Node& n) {
  return std::string(n.mesh_json({"id"}).at("id").as_string());
}

// A work repo with one commit pushed to `to` as `repo`, replicated to all three.
fs::path shared_repo(Trio& t, Node& to, const std::string& repo) {
  auto work = t.make_repo(repo, 1);
  EXPECT_EQ(t.git_to(to, {"push", "-q", Trio::https(to, repo), "main"}, work).exit, 0);
  const std::string head = t.rev(work, "HEAD");
  EXPECT_TRUE(eventually(
      [&] {
        return same_refs_everywhere(t, repo, {{"refs/heads/main", head}});
      },
      kConverge));
  return work;
}

}  // namespace

// Alice is cut off from bob and carol while both sides change the same issues: different
// fields of #1 on each side, the title of #2 on both, a move on each, a new issue on each
// (both claim #4). Once healed all three show one board: every change to a different field
// kept, one title for #2, one order, and the two #4s as #4-xxxx on every node.
TEST(IssuesMesh, PartitionedChangesMergeIntoOneBoardEverywhere) {
  ProxiedTrio t("issues-part", "", {"replication", "issues"});
  t.start_and_pair_proxied();
  shared_repo(t, t.a, "app");

  // #1 by alice, #2 by bob, #3 by carol, each seen by all before the next.
  auto made = issues_json(
      t.a, {"new", "app", "--title", "Crash on start", "--body", "It crashes.", "--label", "bug"});
  ASSERT_EQ(made.at("num").as_int64(), 1);
  const std::string one = str(made, "id");
  ASSERT_TRUE(eventually([&] { return list_of(t.b, "app").size() == 1; }, kConverge));
  ASSERT_EQ(issues_json(t.b, {"new", "app", "--title", "Docs typo"}).at("num").as_int64(), 2);
  ASSERT_TRUE(eventually([&] { return list_of(t.c, "app").size() == 2; }, kConverge));
  ASSERT_EQ(issues_json(t.c, {"new", "app", "--title", "Slow build"}).at("num").as_int64(), 3);
  ASSERT_TRUE(eventually([&] { return same_board_everywhere(t, "app"); }, kConverge));
  const std::string two = id_titled(t.a, "app", "Docs typo");
  const std::string three = id_titled(t.a, "app", "Slow build");

  t.cut(t.a, t.b);
  t.cut(t.a, t.c);
  // Alice's side.
  ASSERT_EQ(issues(t.a, {"edit", "app", "1", "--body", "Body from alice"}).exit, 0);
  ASSERT_EQ(issues(t.a, {"label", "app", "#1", "+ui"}).exit, 0);
  ASSERT_EQ(issues(t.a, {"edit", "app", "2", "--title", "Typo, said alice"}).exit, 0);
  ASSERT_EQ(issues(t.a, {"move", "app", "3", "--before", "1"}).exit, 0);
  auto alices = issues_json(t.a, {"new", "app", "--title", "Alice's fourth"});
  // Bob's side.
  ASSERT_EQ(issues(t.b, {"edit", "app", "1", "--title", "Crash on start, said bob"}).exit, 0);
  ASSERT_EQ(issues(t.b, {"comment", "app", "1", "--body", "Seen it *too*."}).exit, 0);
  ASSERT_EQ(issues(t.b, {"label", "app", "1", "-bug"}).exit, 0);
  ASSERT_EQ(issues(t.b, {"edit", "app", "2", "--title", "Typo, said bob"}).exit, 0);
  ASSERT_EQ(issues(t.b, {"move", "app", "2", "--before", "1"}).exit, 0);
  auto bobs = issues_json(t.b, {"new", "app", "--title", "Bob's fourth"});
  EXPECT_EQ(alices.at("num").as_int64(), 4);
  EXPECT_EQ(bobs.at("num").as_int64(), 4) << "both sides claim the next number";
  // The partition held: alice has none of bob's changes (they are published on his side).
  EXPECT_EQ(str(show_of(t.a, "app", one), "title"), "Crash on start");
  EXPECT_EQ(str(show_of(t.b, "app", one), "body"), "It crashes.");

  t.heal_all();
  std::string board;
  ASSERT_TRUE(eventually([&] { return same_board_everywhere(t, "app", &board); }, kConverge))
      << "alice:\n"
      << board_of(t.a, "app") << "\nbob:\n"
      << board_of(t.b, "app") << "\ncarol:\n"
      << board_of(t.c, "app");

  for (Node* n : t.all()) {
    SCOPED_TRACE(n->name());
    auto i1 = show_of(*n, "app", one);
    EXPECT_EQ(str(i1, "title"), "Crash on start, said bob");
    EXPECT_EQ(str(i1, "body"), "Body from alice");
    // Bob removed the bug he saw; alice's concurrent ui stays.
    EXPECT_EQ(strings(i1, "labels"), std::vector<std::string>{"ui"});
    ASSERT_EQ(i1.at("comments").as_array().size(), 1u);
    EXPECT_EQ(str(i1.at("comments").as_array()[0], "body"), "Seen it *too*.");
    EXPECT_EQ(str(i1.at("comments").as_array()[0], "author"), "bob");
    std::string title2 = str(show_of(*n, "app", two), "title");
    EXPECT_TRUE(title2 == "Typo, said alice" || title2 == "Typo, said bob") << title2;

    // One order: both moved cards ahead of #1, in the same order on every node.
    std::vector<std::string> order;
    for (const auto& i : list_of(*n, "app")) order.push_back(str(i, "id"));
    auto at = [&](const std::string& id) { return std::find(order.begin(), order.end(), id); };
    EXPECT_LT(at(two), at(one));
    EXPECT_LT(at(three), at(one));

    // The two fourths: neither keeps #4, each has a long ref, and #4 lists both.
    std::set<std::string> refs;
    for (const auto& i : list_of(*n, "app")) {
      if (i.at("num").as_int64() == 4) refs.insert(str(i, "ref"));
    }
    ASSERT_EQ(refs.size(), 2u);
    for (const auto& r : refs) EXPECT_TRUE(r.starts_with("#4-")) << r;
    auto ambiguous = issues(*n, {"show", "app", "#4"});
    EXPECT_EQ(ambiguous.exit, 1);
    EXPECT_TRUE(ambiguous.err.starts_with("error: ")) << ambiguous.err;
    EXPECT_NE(ambiguous.err.find("ambiguous"), std::string::npos) << ambiguous.err;
    for (const auto& r : refs) {
      EXPECT_NE(ambiguous.err.find(r), std::string::npos) << ambiguous.err;
      EXPECT_EQ(issues(*n, {"show", "app", r}).exit, 0) << r;
    }
  }

  // Carol is offline while alice and bob go on; back, she catches up to the same board.
  ASSERT_EQ(t.c.stop().exit, 0);
  ASSERT_EQ(issues(t.a, {"close", "app", "1"}).exit, 0);
  ASSERT_EQ(issues(t.a, {"new", "app", "--title", "While carol was away"}).exit, 0);
  // A relative --body-file is read by the CLI, from the caller's directory.
  fs::path note = t.dir.path() / "note.md";
  std::ofstream(note) << "Written in a file\nwith two lines.\n";
  ASSERT_EQ(issues(t.b, {"comment", "app", "2", "--body-file",
                         fs::relative(note, fs::current_path()).string()})
                .exit,
            0);
  ASSERT_EQ(issues(t.b, {"move", "app", "1", "--before", "2"}).exit, 0);
  ASSERT_TRUE(eventually(
      [&] {
        std::string a = board_of(t.a, "app");
        return !a.empty() && board_of(t.b, "app") == a;
      },
      kConverge));
  ASSERT_EQ(t.c.restart().exit, 0);
  ASSERT_TRUE(eventually([&] { return same_board_everywhere(t, "app", &board); }, kConverge))
      << "carol:\n"
      << board_of(t.c, "app") << "\nalice:\n"
      << board_of(t.a, "app");
  EXPECT_EQ(str(show_of(t.c, "app", one), "state"), "closed");
  auto two_on_c = show_of(t.c, "app", two);
  ASSERT_EQ(two_on_c.at("comments").as_array().size(), 1u);
  EXPECT_EQ(str(two_on_c.at("comments").as_array()[0], "body"),
            "Written in a file\nwith two lines.\n");
  EXPECT_NE(id_titled(t.c, "app", "While carol was away"), "");
}

// A commit saying "fixes #1" closes #1 on every node once it is on the default branch (and
// not before, on another branch); only the node that took the push publishes the close. A
// member's bad ops are refused on every node with a record in `mesh status`, and the board
// goes on; a member past its limit gets a clear error, and its op sent anyway is refused
// everywhere.
TEST(IssuesMesh, CommitsCloseIssuesAndBadOpsAndLimitsAreRefusedEverywhere) {
  Trio t("issues-close", {"replication", "issues", "test-hello"},
         "[plugins.issues]\nmax_issues_per_member = 3\n");
  t.start_and_pair();
  auto work = shared_repo(t, t.a, "app");
  const std::string one = str(issues_json(t.a, {"new", "app", "--title", "Crash on start"}), "id");
  ASSERT_TRUE(eventually([&] { return list_of(t.b, "app").size() == 1; }, kConverge));
  const std::string two = str(issues_json(t.b, {"new", "app", "--title", "Docs typo"}), "id");
  ASSERT_TRUE(eventually([&] { return same_board_everywhere(t, "app"); }, kConverge));

  // Pushed to bob: "fixes #2" on a topic branch closes nothing; then "fixes #1" on main
  // closes #1 (bob's refs events reach his issues plugin in order, so once #1 is closed the
  // topic push has been read too: #2 must still be open).
  ASSERT_EQ(t.git({"checkout", "-q", "-b", "topic"}, work).exit, 0);
  std::ofstream(work / "flag.txt") << "documented\n";
  ASSERT_EQ(t.git({"add", "flag.txt"}, work).exit, 0);
  ASSERT_EQ(t.git({"commit", "-q", "-m", "Document the flag\n\nFixes #2"}, work).exit, 0);
  ASSERT_EQ(t.git_to(t.b, {"push", "-q", Trio::https(t.b, "app"), "topic"}, work).exit, 0);
  ASSERT_EQ(t.git({"checkout", "-q", "main"}, work).exit, 0);
  std::ofstream(work / "fix.txt") << "fixed\n";
  ASSERT_EQ(t.git({"add", "fix.txt"}, work).exit, 0);
  ASSERT_EQ(t.git({"commit", "-q", "-m", "Guard the start\n\nFixes #1, see #2."}, work).exit, 0);
  const std::string fix = t.rev(work, "HEAD");
  ASSERT_EQ(t.git_to(t.b, {"push", "-q", Trio::https(t.b, "app"), "main"}, work).exit, 0);
  for (Node* n : t.all()) {
    ASSERT_TRUE(
        eventually([&] { return str(show_of(*n, "app", one), "state") == "closed"; }, kConverge))
        << n->name();
    EXPECT_EQ(str(show_of(*n, "app", one), "closed_by"), fix) << n->name();
  }
  // Bob closed #1 through his feed; by the time that event reached alice, so had bob's
  // earlier events (one feed, in seq order), so nothing closed #2 anywhere.
  for (Node* n : t.all()) EXPECT_EQ(str(show_of(*n, "app", two), "state"), "open") << n->name();
  // Only bob, who took the push, published the close; the others got the refs event relayed.
  EXPECT_EQ(log_lines_with(t.b, "app #1 closed by commit " + fix.substr(0, 12)).size(), 1u);
  EXPECT_TRUE(log_lines_with(t.a, "closed by commit").empty());
  EXPECT_TRUE(log_lines_with(t.c, "closed by commit").empty());

  // Carol, a member, sends ops no plugin would: an unknown kind, a title past the limit, an
  // op naming another repo for #1, and one that is not JSON. Each is refused on every node
  // with its reason, and her next good op applies.
  const std::string carol = node_id(t.c);
  auto say = [&](const std::string& payload) {
    auto p = t.c.mesh({"hello-say", "issues", payload});
    EXPECT_EQ(p.exit, 0) << p.err;
  };
  say(R"({"v":1,"op":"explode","repo":"app","issue":")" + one + R"("})");
  say(R"({"v":1,"op":"edit_title","repo":"app","issue":")" + one + R"(","title":")" +
      std::string(300, 'x') + R"("})");
  say(R"({"v":1,"op":"edit_title","repo":"web","issue":")" + one + R"(","title":"moved"})");
  say("event-1");
  ASSERT_EQ(issues(t.c, {"comment", "app", "1", "--body", "After the junk"}).exit, 0);
  for (Node* n : t.all()) {
    SCOPED_TRACE(n->name());
    ASSERT_TRUE(eventually(
        [&] { return show_of(*n, "app", one).at("comments").as_array().size() == 1; }, kConverge));
    EXPECT_EQ(str(show_of(*n, "app", one), "title"), "Crash on start");
    // The status section is refreshed within a few seconds of a change, as a snapshot that
    // may have been taken between two of the four refusals: wait for one with all four.
    EXPECT_TRUE(eventually(
        [&] {
          return refusals(*n, carol, "kind") == 1 && refusals(*n, carol, "title") == 1 &&
                 refusals(*n, carol, "repo") == 1 && refusals(*n, carol, "malformed") == 1;
        },
        kConverge))
        << json::serialize(issues_status(*n));
    EXPECT_EQ(log_lines_with(*n, "refused op " + carol).size(), 4u) << "logged with its origin";
    auto text = n->mesh({"status"});
    EXPECT_NE(text.out.find("refused: " + carol), std::string::npos) << text.out;
  }

  // Limits per member (3 issues here): bob has one and makes two more; the next is a clear
  // error and publishes nothing.
  ASSERT_EQ(issues(t.b, {"new", "app", "--title", "Bob's second"}).exit, 0);
  ASSERT_EQ(issues(t.b, {"new", "app", "--title", "Bob's third"}).exit, 0);
  auto over = issues(t.b, {"new", "app", "--title", "Bob's fourth"});
  EXPECT_EQ(over.exit, 1);
  EXPECT_NE(over.err.find("error: this member has reached its limit of 3 issues"),
            std::string::npos)
      << over.err;
  // Bob sends one anyway, past the CLI: every node refuses it as over his quota.
  const std::string bob = node_id(t.b);
  auto sent = t.b.mesh({"hello-say", "issues",
                        R"({"v":1,"op":"create","repo":"app","num":99,"title":"Sneaked in",)"
                        R"("body":"","labels":[],"order":"a9"})"});
  ASSERT_EQ(sent.exit, 0) << sent.err;
  // Alice still has room of her own.
  ASSERT_EQ(issues(t.a, {"new", "app", "--title", "Alice's second"}).exit, 0);
  for (Node* n : t.all()) {
    SCOPED_TRACE(n->name());
    ASSERT_TRUE(eventually([&] { return refusals(*n, bob, "quota") == 1; }, kConverge));
    ASSERT_TRUE(
        eventually([&] { return id_titled(*n, "app", "Alice's second") != ""; }, kConverge));
    EXPECT_EQ(id_titled(*n, "app", "Sneaked in"), "");
    EXPECT_EQ(list_of(*n, "app").size(), 5u);
    auto s = issues_status(*n);
    bool listed = false;
    for (const auto& m : s.at("members").as_array()) {
      if (str(m, "origin") == bob) {
        listed = true;
        EXPECT_EQ(m.at("issues").as_int64(), 3);
      }
    }
    EXPECT_TRUE(listed);
    EXPECT_EQ(s.at("member_limits").at("issues").as_int64(), 3);
  }
  EXPECT_TRUE(same_board_everywhere(t, "app"));
}
