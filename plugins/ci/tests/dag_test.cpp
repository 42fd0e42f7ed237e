#include "dag.hpp"

#include <gtest/gtest.h>

using namespace mesh::ci;

namespace {

Dag build(std::vector<DagNode> nodes) {
  auto d = Dag::build(nodes);
  EXPECT_TRUE(d) << d.error().message;
  return d ? *d : Dag();
}

}  // namespace

TEST(CiDag, TopologicalOrderIsStable) {
  // lint and build are independent; test needs build; deploy needs test and lint.
  Dag d = build({{"deploy", {"test", "lint"}}, {"test", {"build"}}, {"lint", {}}, {"build", {}}});
  EXPECT_EQ(d.order(), (std::vector<std::size_t>{2, 3, 1, 0}));  // lint, build, test, deploy
  for (std::size_t pos = 0; pos < d.order().size(); ++pos) {
    for (auto need : d.needs(d.order()[pos])) {
      auto at = std::find(d.order().begin(), d.order().end(), need) - d.order().begin();
      EXPECT_LT(static_cast<std::size_t>(at), pos);
    }
  }
  EXPECT_EQ(d.index("test"), 1u);
  EXPECT_FALSE(d.index("nope"));
  EXPECT_EQ(d.with_dependencies({0}), (std::vector<std::size_t>{0, 1, 2, 3}));
  EXPECT_EQ(d.with_dependencies({1}), (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(d.with_dependencies({2}), (std::vector<std::size_t>{2}));
}

TEST(CiDag, Errors) {
  std::size_t bad = 99;
  auto cyc = Dag::build({{"a", {"b"}}, {"b", {"c"}}, {"c", {"a"}}, {"d", {}}}, &bad);
  ASSERT_FALSE(cyc);
  EXPECT_EQ(cyc.error().message, "dependency cycle: a -> b -> c -> a (each depends on the next)");
  EXPECT_EQ(bad, 0u);
  auto tail = Dag::build({{"x", {"b"}}, {"a", {}}, {"b", {"c"}}, {"c", {"b"}}}, &bad);
  ASSERT_FALSE(tail);
  EXPECT_EQ(tail.error().message, "dependency cycle: b -> c -> b (each depends on the next)");
  EXPECT_EQ(bad, 2u);
  EXPECT_FALSE(Dag::build({{"a", {"a"}}}));
  EXPECT_FALSE(Dag::build({{"a", {"z"}}}));
  EXPECT_FALSE(Dag::build({{"a", {}}, {"a", {}}}));
  EXPECT_FALSE(Dag::build({{"a", {}}, {"b", {"a", "a"}}}));
  EXPECT_TRUE(Dag::build({}));
}

TEST(CiDag, ReadyRespectsDependenciesAndParallelism) {
  // a, b, c independent; d needs a and b; e needs d.
  Dag d = build({{"a", {}}, {"b", {}}, {"c", {}}, {"d", {"a", "b"}}, {"e", {"d"}}});
  using P = JobPhase;
  std::vector<P> s(5, P::pending);
  EXPECT_EQ(d.ready(s, 2), (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(d.ready(s, 10), (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(d.ready(s, 0), (std::vector<std::size_t>{0}));  // at least one
  s[0] = P::running;
  s[1] = P::running;
  EXPECT_TRUE(d.ready(s, 2).empty());  // both slots taken
  EXPECT_EQ(d.ready(s, 3), (std::vector<std::size_t>{2}));
  s[0] = P::passed;
  EXPECT_EQ(d.ready(s, 2), (std::vector<std::size_t>{2}));  // d still waits for b
  s[1] = P::passed;
  s[2] = P::passed;
  EXPECT_EQ(d.ready(s, 2), (std::vector<std::size_t>{3}));
  EXPECT_FALSE(d.finished(s));
  s[3] = P::passed;
  s[4] = P::passed;
  EXPECT_TRUE(d.finished(s));
  EXPECT_TRUE(d.ready(std::vector<P>(3, P::pending), 2).empty());  // wrong size: nothing
}

TEST(CiDag, DownstreamOfAFailureIsDoomed) {
  Dag d = build({{"a", {}}, {"b", {"a"}}, {"c", {"b"}}, {"x", {}}, {"y", {"x", "c"}}});
  using P = JobPhase;
  std::vector<P> s = {P::failed, P::pending, P::pending, P::running, P::pending};
  EXPECT_EQ(d.doomed(s), (std::vector<std::size_t>{1, 2, 4}));  // transitive, in one call
  EXPECT_TRUE(d.ready(s, 5).empty());
  s = {P::cancelled, P::pending, P::pending, P::passed, P::pending};
  EXPECT_EQ(d.doomed(s), (std::vector<std::size_t>{1, 2, 4}));
  s = {P::passed, P::skipped, P::pending, P::passed, P::pending};
  EXPECT_EQ(d.doomed(s), (std::vector<std::size_t>{2, 4}));
  s = {P::passed, P::running, P::pending, P::passed, P::pending};
  EXPECT_TRUE(d.doomed(s).empty());
  // Marking the doomed jobs skipped finishes the run.
  s = {P::failed, P::pending, P::pending, P::passed, P::pending};
  for (auto i : d.doomed(s)) s[i] = P::skipped;
  EXPECT_TRUE(d.finished(s));
}
