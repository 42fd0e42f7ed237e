#include "assignment.hpp"

#include <gtest/gtest.h>

#include <map>

#include "ids.hpp"
#include "test_util.hpp"

using namespace mesh::ci;
using namespace mesh::ci::test;

namespace {

RunnerInfo runner(std::string name, std::vector<std::string> modes, std::vector<std::string> labels,
                  std::uint32_t slots, std::uint32_t free) {
  return RunnerInfo{std::move(name), std::move(modes), std::move(labels), slots, free};
}

NodeInfo up(char c, std::vector<RunnerInfo> runners, double load = 0.1) {
  return NodeInfo{node(c), true, load, std::move(runners)};
}

const std::string kRun(64, '7');

}  // namespace

TEST(CiAssignment, LabelsAndModes) {
  Requirements req{{"shell", "docker"}, {"linux"}, Fallback::none};
  std::vector<NodeInfo> nodes = {
      up('a', {runner("shell", {"shell"}, {"linux"}, 2, 2)}),  // no docker
      up('b', {runner("shell", {"shell"}, {}, 2, 2),
               runner("docker", {"docker"}, {}, 1, 1)}),  // no label
      up('c', {runner("shell", {"shell"}, {"linux"}, 2, 1),
               runner("docker", {"docker"}, {"linux", "x86_64"}, 1, 1)}),
  };
  auto d = decide_assignment(req, nodes, {}, kRun);
  ASSERT_EQ(d.kind, Decision::Kind::assign) << d.reason;
  EXPECT_EQ(d.pick.node, node('c'));
  EXPECT_EQ(d.pick.runners, (std::vector<std::pair<std::string, std::string>>{{"docker", "docker"},
                                                                              {"shell", "shell"}}));
  EXPECT_TRUE(d.pick.labelled);
  // Without c, fallback none: nothing runs anywhere.
  nodes[2].up = false;
  d = decide_assignment(req, nodes, {}, kRun);
  EXPECT_EQ(d.kind, Decision::Kind::no_runner);
  EXPECT_EQ(d.reason,
            "no runner up for modes shell, docker with label linux (fallback: none); 2 nodes up");
  // fallback any: b has both modes, without the label.
  req.fallback = Fallback::any;
  d = decide_assignment(req, nodes, {}, kRun);
  ASSERT_EQ(d.kind, Decision::Kind::assign);
  EXPECT_EQ(d.pick.node, node('b'));
  EXPECT_FALSE(d.pick.labelled);
  // Nobody has docker at all: no-runner even with fallback any.
  Requirements gpu{{"cuda"}, {}, Fallback::any};
  d = decide_assignment(gpu, nodes, {}, kRun);
  EXPECT_EQ(d.kind, Decision::Kind::no_runner);
  EXPECT_EQ(d.reason, "no runner up for mode cuda; 2 nodes up");
}

TEST(CiAssignment, RankingFreeSlotsLoadAndTieBreak) {
  Requirements req{{"shell"}, {}, Fallback::none};
  std::vector<NodeInfo> nodes = {
      up('a', {runner("shell", {"shell"}, {}, 2, 0)}, 0.0),  // busy
      up('b', {runner("shell", {"shell"}, {}, 2, 1)}, 0.9),
      up('c', {runner("shell", {"shell"}, {}, 2, 2)}, 0.2),
  };
  auto ranked = rank_candidates(req, nodes, {}, kRun);
  ASSERT_EQ(ranked.size(), 3u);
  EXPECT_EQ(ranked[0].node, node('c'));  // free and least loaded
  EXPECT_EQ(ranked[1].node, node('b'));
  EXPECT_EQ(ranked[2].node, node('a'));  // no free slot: last
  // The best runner of a node: most free slots, then the lowest name.
  NodeInfo two = up('d', {runner("zeta", {"shell"}, {}, 4, 4), runner("alpha", {"shell"}, {}, 4, 4),
                          runner("mid", {"shell"}, {}, 4, 1)});
  auto r = rank_candidates(req, {two}, {}, kRun);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].runners[0].second, "alpha");
  // Equal nodes: the order depends on the run id (work is spread), but not on the input order.
  std::vector<NodeInfo> same = {up('e', {runner("s", {"shell"}, {}, 1, 1)}, 0.5),
                                up('f', {runner("s", {"shell"}, {}, 1, 1)}, 0.5),
                                up('g', {runner("s", {"shell"}, {}, 1, 1)}, 0.5)};
  std::map<std::string, int> firsts;
  for (int i = 0; i < 60; ++i) {
    std::string run = run_id("my-app", "refs/heads/main", sha('a'), "push" + std::to_string(i));
    auto x = rank_candidates(req, same, {}, run);
    std::vector<NodeInfo> reversed(same.rbegin(), same.rend());
    auto y = rank_candidates(req, reversed, {}, run);
    ASSERT_EQ(x.size(), 3u);
    for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(x[k].node, y[k].node);
    ++firsts[x[0].node];
  }
  EXPECT_EQ(firsts.size(), 3u);
}

TEST(CiAssignment, WaitExcludeAndDown) {
  Requirements req{{"shell"}, {"linux"}, Fallback::any};
  std::vector<NodeInfo> nodes = {
      up('a', {runner("shell", {"shell"}, {"linux"}, 1, 0)}),  // labelled, busy
      up('b', {runner("shell", {"shell"}, {}, 1, 1)}),         // unlabelled, free
  };
  // A busy labelled runner is waited for: fallback is for when no labelled runner is up.
  auto d = decide_assignment(req, nodes, {}, kRun);
  EXPECT_EQ(d.kind, Decision::Kind::wait);
  EXPECT_EQ(d.reason, "every eligible runner is busy (2 nodes)");
  // A runner that declined or lost its lease is skipped on reassignment.
  d = decide_assignment(req, nodes, {node('a')}, kRun);
  ASSERT_EQ(d.kind, Decision::Kind::assign);
  EXPECT_EQ(d.pick.node, node('b'));
  d = decide_assignment(req, nodes, {node('a'), node('b')}, kRun);
  EXPECT_EQ(d.kind, Decision::Kind::no_runner);
  EXPECT_NE(d.reason.find("2 already tried"), std::string::npos) << d.reason;
  nodes[0].up = false;
  nodes[1].up = false;
  d = decide_assignment(req, nodes, {}, kRun);
  EXPECT_EQ(d.kind, Decision::Kind::no_runner);
  EXPECT_NE(d.reason.find("0 nodes up"), std::string::npos);
  EXPECT_TRUE(decide_assignment(req, {}, {}, kRun).kind == Decision::Kind::no_runner);
}

TEST(CiAssignment, EligibleNodesForCronElection) {
  Requirements req{{"shell"}, {"linux"}, Fallback::none};
  std::vector<NodeInfo> nodes = {
      up('c', {runner("shell", {"shell"}, {"linux"}, 1, 0)}),  // busy still counts
      up('a', {runner("shell", {"shell"}, {"linux"}, 1, 1)}),
      up('b', {runner("shell", {"shell"}, {}, 1, 1)}),  // lacks the label
      NodeInfo{node('d'), false, 0, {runner("shell", {"shell"}, {"linux"}, 1, 1)}},  // down
  };
  EXPECT_EQ(eligible_nodes(req, nodes), (std::vector<std::string>{node('a'), node('c')}));
  req.fallback = Fallback::any;
  EXPECT_EQ(eligible_nodes(req, nodes).size(), 3u);
}
