// The registry and the rule, on a fake commit graph: order independence (every permutation of
// a set of updates gives the same registry and plan), the winner rule, parking, resolution by
// merge and by drop, deletions overtaken by new work, and expiry.
#include "registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

using namespace mesh::repl;

namespace {

const std::string Z(40, '0');

// Commits named by one letter; parents given explicitly.
struct Graph {
  std::map<std::string, std::vector<std::string>> parents;
  // Letters stand for commits; oids must be hex, so each letter maps to a digit.
  static std::string oid(char c) {
    static const std::string letters = "abcdefhmxyz", digits = "abcdef12345";
    return std::string(40, digits[letters.find(c)]);
  }
  void add(char c, std::vector<char> ps = {}) {
    auto& v = parents[oid(c)];
    for (char p : ps) v.push_back(oid(p));
  }
  bool has(const std::string& o) const { return parents.count(o) > 0; }
  bool contains(const std::string& a, const std::string& b) const {
    if (a == b) return has(a);
    auto it = parents.find(a);
    if (it == parents.end()) return false;
    for (const auto& p : it->second) {
      if (contains(p, b)) return true;
    }
    return false;
  }
  HasObject has_fn() const {
    return [this](const std::string& o) { return has(o); };
  }
  Contains contains_fn() const {
    return [this](const std::string& a, const std::string& b) { return contains(a, b); };
  }
};

std::string O(char c) {
  return Graph::oid(c);
}
Key K(std::uint64_t clock, const char* origin) {
  return {clock, origin};
}
RegistryUpdate U(char old_c, char new_c, std::vector<std::string> sup = {}) {
  return {"refs/heads/main", old_c ? O(old_c) : Z, new_c ? O(new_c) : Z, std::move(sup)};
}

struct Applied {
  RegistryUpdate u;
  Key k;
};

RefPlan plan(const RepoRegistry& r, const Graph& g) {
  auto it = r.refs.find("refs/heads/main");
  return it == r.refs.end() ? RefPlan{} : plan_ref(it->second, g.has_fn(), g.contains_fn());
}

std::string winner(const RefPlan& p) {
  return p.winner ? p.winner->value : "absent";
}

}  // namespace

TEST(Registry, APlainHistoryHasOneValue) {
  Graph g;
  g.add('a');
  g.add('b', {'a'});
  g.add('c', {'b'});
  RepoRegistry r;
  r.apply(U(0, 'a'), K(1, "x"), 0);
  r.apply(U('a', 'b'), K(2, "y"), 0);
  r.apply(U('b', 'c'), K(3, "x"), 0);
  auto p = plan(r, g);
  EXPECT_EQ(winner(p), O('c'));
  EXPECT_TRUE(p.parked.empty());
  EXPECT_EQ(r.refs["refs/heads/main"].alive().size(), 1u);
  EXPECT_EQ(r.max_clock(), 3u);
}

TEST(Registry, ConcurrentPushesTheGreatestKeyWinsAndTheOtherIsParked) {
  Graph g;
  g.add('a');
  g.add('x', {'a'});
  g.add('y', {'a'});
  RepoRegistry r;
  r.apply(U(0, 'a'), K(1, "alice"), 0);
  r.apply(U('a', 'x'), K(5, "alice"), 0);
  r.apply(U('a', 'y'), K(5, "carol"), 0);  // same clock: the origin decides
  auto p = plan(r, g);
  EXPECT_EQ(winner(p), O('y'));
  ASSERT_EQ(p.parked.size(), 1u);
  EXPECT_EQ(p.parked[0].value, O('x'));
  EXPECT_EQ(p.parked[0].key, K(5, "alice"));
}

TEST(Registry, AMergeResolvesAndTheWinnerLineAdvancingKeepsWinning) {
  Graph g;
  g.add('a');
  g.add('x', {'a'});
  g.add('y', {'a'});
  g.add('z', {'y'});       // the winning line advances
  g.add('m', {'z', 'x'});  // then someone merges
  RepoRegistry r;
  r.apply(U(0, 'a'), K(1, "alice"), 0);
  r.apply(U('a', 'x'), K(2, "alice"), 0);
  r.apply(U('a', 'y'), K(3, "carol"), 0);
  r.apply(U('y', 'z'), K(4, "bob"), 0);
  EXPECT_EQ(winner(plan(r, g)), O('z'));
  EXPECT_EQ(plan(r, g).parked.size(), 1u);
  // The merge's pusher saw both: its update supersedes the parked tip too.
  auto sup =
      superseded_by_push(r.refs["refs/heads/main"], O('z'), O('m'), g.has_fn(), g.contains_fn());
  EXPECT_EQ(sup, std::vector<std::string>{O('x')});
  r.apply(U('z', 'm', sup), K(6, "bob"), 0);
  auto p = plan(r, g);
  EXPECT_EQ(winner(p), O('m'));
  EXPECT_TRUE(p.parked.empty());
  EXPECT_EQ(r.refs["refs/heads/main"].alive().size(), 1u);
}

TEST(Registry, ADropSupersedesTheParkedTipOnly) {
  Graph g;
  g.add('a');
  g.add('x', {'a'});
  g.add('y', {'a'});
  RepoRegistry r;
  r.apply(U(0, 'a'), K(1, "alice"), 0);
  r.apply(U('a', 'x'), K(2, "alice"), 0);
  r.apply(U('a', 'y'), K(3, "carol"), 0);
  // Drop: "the team keeps y": old = new = y, supersedes x.
  r.apply({"refs/heads/main", O('y'), O('y'), {O('x')}}, K(4, "bob"), 0);
  auto p = plan(r, g);
  EXPECT_EQ(winner(p), O('y'));
  EXPECT_TRUE(p.parked.empty());
}

TEST(Registry, ALaggingNodesFastForwardIsNoDivergence) {
  // carol's node had only a; the user fetched x from alice and pushed y on top to carol.
  Graph g;
  g.add('a');
  g.add('x', {'a'});
  g.add('y', {'x'});
  RepoRegistry r;
  r.apply(U(0, 'a'), K(1, "alice"), 0);
  r.apply(U('a', 'x'), K(5, "alice"), 0);
  r.apply(U('a', 'y'), K(2, "carol"), 0);  // a lower clock: carol had not seen x's event
  auto p = plan(r, g);
  EXPECT_EQ(winner(p), O('y'));
  EXPECT_TRUE(p.parked.empty());
}

TEST(Registry, AForcePushAndItsUndoPropagate) {
  Graph g;
  g.add('a');
  g.add('b', {'a'});
  RepoRegistry r;
  r.apply(U(0, 'a'), K(1, "x"), 0);
  r.apply(U('a', 'b'), K(2, "x"), 0);
  r.apply(U('b', 'a'), K(3, "y"), 0);  // force back
  EXPECT_EQ(winner(plan(r, g)), O('a'));
  r.apply(U('a', 'b'), K(4, "x"), 0);  // and forward again: b was dead, now set later
  EXPECT_EQ(winner(plan(r, g)), O('b'));
  EXPECT_TRUE(plan(r, g).parked.empty());
}

TEST(Registry, DeletionsAndRecreation) {
  Graph g;
  g.add('a');
  g.add('b', {'a'});
  RepoRegistry r;
  r.apply(U(0, 'a'), K(1, "x"), 0);
  r.apply(U('a', 0), K(2, "x"), 0);
  auto p = plan(r, g);
  EXPECT_FALSE(p.winner);
  EXPECT_TRUE(p.lost_deletions.empty());
  // A late copy of the old creation (lower key) does not bring it back.
  r.apply(U(0, 'a'), K(1, "x"), 0);
  EXPECT_FALSE(plan(r, g).winner);
  // Recreated later at the same tip.
  auto sup = superseded_by_push(r.refs["refs/heads/main"], Z, O('a'), g.has_fn(), g.contains_fn());
  EXPECT_EQ(sup, std::vector<std::string>{deletion_of(O('a'))});
  r.apply(U(0, 'a', sup), K(3, "y"), 0);
  EXPECT_EQ(winner(plan(r, g)), O('a'));
  EXPECT_TRUE(plan(r, g).lost_deletions.empty());
}

TEST(Registry, ADeletionOvertakenByNewWorkIsReportedAndTheWorkKept) {
  Graph g;
  g.add('a');
  g.add('b', {'a'});
  RepoRegistry r;
  r.apply(U(0, 'a'), K(1, "x"), 0);
  r.apply(U('a', 0), K(9, "alice"), 0);  // alice deletes (even with the greater key)
  r.apply(U('a', 'b'), K(5, "bob"), 0);  // bob, concurrently, adds work
  auto p = plan(r, g);
  EXPECT_EQ(winner(p), O('b'));
  ASSERT_EQ(p.lost_deletions.size(), 1u);
  EXPECT_EQ(p.lost_deletions[0].value, deletion_of(O('a')));
  EXPECT_EQ(p.lost_deletions[0].key, K(9, "alice"));
  // The next push to the branch (its pusher saw it) clears the record.
  g.add('c', {'b'});
  auto sup =
      superseded_by_push(r.refs["refs/heads/main"], O('b'), O('c'), g.has_fn(), g.contains_fn());
  r.apply(U('b', 'c', sup), K(10, "bob"), 0);
  EXPECT_TRUE(plan(r, g).lost_deletions.empty());
}

TEST(Registry, MissingObjectsMakeAPlanWaitUnlessUnavailable) {
  Graph g;
  g.add('a');
  g.add('x', {'a'});
  RepoRegistry r;
  r.apply(U(0, 'a'), K(1, "x"), 0);
  r.apply(U('a', 'x'), K(2, "x"), 0);
  r.apply(U('a', 'y'), K(3, "y"), 0);  // y's objects are not here
  auto& ref = r.refs["refs/heads/main"];
  auto p = plan_ref(ref, g.has_fn(), g.contains_fn());
  EXPECT_FALSE(p.ready());
  EXPECT_EQ(p.missing, std::vector<std::string>{O('y')});
  p = plan_ref(ref, g.has_fn(), g.contains_fn(), {O('y')});
  EXPECT_TRUE(p.ready());
  EXPECT_EQ(winner(p), O('x'));
}

TEST(Registry, RemovalIsLastWriterWins) {
  RepoRegistry r;
  EXPECT_FALSE(r.is_removed());
  EXPECT_TRUE(r.apply_removal(true, K(5, "a"), 100));
  EXPECT_TRUE(r.is_removed());
  EXPECT_EQ(r.removed_at_ms, 100);
  EXPECT_FALSE(r.apply_removal(true, K(4, "a"), 200));  // older: no change
  EXPECT_TRUE(r.apply_removal(false, K(3, "b"), 300));  // an older restore loses
  EXPECT_TRUE(r.is_removed());
  EXPECT_TRUE(r.apply_removal(false, K(6, "b"), 400));
  EXPECT_FALSE(r.is_removed());
}

TEST(Registry, DeadValuesExpireAndAreCapped) {
  RepoRegistry r;
  Graph g;
  r.apply(U(0, 'a'), K(1, "x"), 0);
  r.apply(U('a', 'b'), K(2, "x"), 1'000);
  r.apply(U('b', 'c'), K(3, "x"), 2'000);
  r.apply(U('c', 'd'), K(4, "x"), 3'000);
  auto& values = r.refs["refs/heads/main"].values;
  EXPECT_EQ(values.size(), 4u);
  r.expire(3'500, 2'000, 100);  // a (superseded at 1000) is older than 2 s
  EXPECT_EQ(values.count(O('a')), 0u);
  EXPECT_EQ(values.size(), 3u);
  r.expire(3'500, 100'000, 1);  // keep one dead value (the newest: c)
  EXPECT_EQ(values.size(), 2u);
  EXPECT_EQ(values.count(O('c')), 1u);
  EXPECT_TRUE(values.at(O('d')).alive());
  r.apply(U('d', 0), K(5, "x"), 4'000);
  r.expire(1'000'000, 10, 100);  // everything dead and old: the deletion record stays alive
  EXPECT_EQ(r.refs.count("refs/heads/main"), 1u);
  EXPECT_EQ(values.size(), 1u);
  EXPECT_TRUE(values.at(deletion_of(O('d'))).alive());
}

// The property everything rests on: any order, any repetition, same registry and same plan.
TEST(Registry, EveryOrderAndRepetitionGivesTheSameResult) {
  Graph g;
  g.add('a');
  g.add('b', {'a'});
  g.add('c', {'a'});
  g.add('d', {'b'});
  g.add('e', {'c'});
  g.add('f', {'d', 'e'});
  g.add('h', {'a'});
  std::vector<Applied> ups = {
      {U(0, 'a'), K(1, "n1")},
      {U('a', 'b'), K(2, "n1")},
      {U('a', 'c'), K(2, "n2")},
      {U('b', 'd'), K(3, "n1")},
      {U('c', 'e'), K(3, "n3")},
      {U('a', 0), K(4, "n2")},
      {U('d', 'h'), K(5, "n3")},
      {U('e', 'f', {O('d')}), K(6, "n2")},
      {U('h', 'h', {O('c')}), K(7, "n1")},
  };
  std::mt19937 rng(1234);
  std::optional<std::map<std::string, std::pair<bool, std::string>>> first;
  std::string first_plan;
  for (int round = 0; round < 200; ++round) {
    auto order = ups;
    std::shuffle(order.begin(), order.end(), rng);
    // Some updates twice (a redelivered event).
    order.push_back(order[round % order.size()]);
    RepoRegistry r;
    for (const auto& a : order) r.apply(a.u, a.k, 0);
    std::map<std::string, std::pair<bool, std::string>> state;
    for (const auto& [v, s] : r.refs["refs/heads/main"].values) {
      state[v] = {s.alive(), s.set ? s.set->origin + std::to_string(s.set->clock) : ""};
    }
    auto p = plan(r, g);
    std::string ps = winner(p);
    for (const auto& c : p.parked) ps += " parked:" + c.value;
    for (const auto& c : p.lost_deletions) ps += " lost:" + c.value;
    if (!first) {
      first = state;
      first_plan = ps;
    } else {
      EXPECT_EQ(state, *first) << "round " << round;
      EXPECT_EQ(ps, first_plan) << "round " << round;
    }
  }
  // f (merge of d and e) is not h's ancestor and h is not f's: h has the greater key.
  EXPECT_EQ(first_plan.substr(0, 40), O('h'));
}
