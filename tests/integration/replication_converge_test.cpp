// Convergence (issue #10): conflicting pushes end as one value per ref on every node, the
// other tip parked under one name everywhere, the losing pusher told; a merge or a drop on any
// node clears it everywhere; a node that stops is down for the others at once and named by the
// pushes it misses.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "harness.hpp"
#include "proxied_trio.hpp"
#include "trio.hpp"

using namespace mesh::test;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr auto kReplicate = 60s;

std::string main_of(const Node& n, const std::string& repo) {
  return refs_of(n, repo)["refs/heads/main"];
}

// (parked_as, oid) of every divergence of `repo` on n.
std::set<std::pair<std::string, std::string>> parked_of(const Node& n, const std::string& repo) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& d : divergences_of(n, repo)) {
    out.emplace(std::string(d.at("parked_as").as_string()), std::string(d.at("oid").as_string()));
  }
  return out;
}

}  // namespace

// Two teammates push different commits to main on alice and on carol at the same moment
// (alice and carol cannot reach each other; bob relays). Every node ends with one main and the
// other tip parked under one name; the losing push is told while it is still open; a merge
// pushed to bob clears it everywhere. A second conflict is dropped on bob and clears too.
TEST(Convergence, TwoPushesAtOnceEndAsOneMainEverywhere) {
  ProxiedTrio t("conv-two", "[plugins.replication]\npush_wait_ms = 20000\n");
  t.start_and_pair_proxied();
  auto work_a = t.make_repo("a", 1);
  ASSERT_EQ(t.git_to(t.a, {"push", "-q", Trio::https(t.a, "doc"), "main"}, work_a).exit, 0);
  const std::string base = t.rev(work_a, "HEAD");
  ASSERT_TRUE(eventually(
      [&] {
        return same_refs_everywhere(t, "doc", {{"refs/heads/main", base}});
      },
      kReplicate));
  auto work_c = t.dir.path() / "work-c";
  ASSERT_EQ(t.git_to(t.c, {"clone", "-q", Trio::https(t.c, "doc"), work_c.string()}, {}).exit, 0);

  t.cut(t.a, t.c);
  const std::string x = t.commit(work_a, "x");
  const std::string y = t.commit(work_c, "y");
  auto push_a = std::async(std::launch::async, [&] {
    return t.git_to(t.a, {"push", Trio::https(t.a, "doc"), "main"}, work_a);
  });
  auto push_c = std::async(std::launch::async, [&] {
    return t.git_to(t.c, {"push", Trio::https(t.c, "doc"), "main"}, work_c);
  });
  Proc pa = push_a.get(), pc = push_c.get();
  ASSERT_EQ(pa.exit, 0) << pa.err;
  ASSERT_EQ(pc.exit, 0) << pc.err;
  // Exactly one of the two pushes heard that it was overtaken, with the commands to resolve it.
  const bool a_lost = pa.err.find("was overtaken") != std::string::npos;
  const bool c_lost = pc.err.find("was overtaken") != std::string::npos;
  ASSERT_NE(a_lost, c_lost) << "alice's push:\n" << pa.err << "\ncarol's push:\n" << pc.err;
  const std::string winner = a_lost ? y : x, loser = a_lost ? x : y;
  const Proc& lost = a_lost ? pa : pc;
  const Node& loser_node = a_lost ? t.a : t.c;
  const std::string parked = "refs/mesh/parked/" + loser + "/heads/main";
  EXPECT_NE(
      lost.err.find("remote: mesh: your " + loser.substr(0, 12) + " is kept, parked as " + parked),
      std::string::npos)
      << lost.err;
  EXPECT_NE(lost.err.find("git fetch " + Trio::https(loser_node, "doc") + " " + loser +
                          " && git merge FETCH_HEAD && git push " + Trio::https(loser_node, "doc") +
                          " HEAD:main"),
            std::string::npos)
      << lost.err;

  t.heal(t.a, t.c);
  auto converged = [&](const std::string& main, std::set<std::pair<std::string, std::string>> p) {
    for (Node* n : t.all()) {
      if (main_of(*n, "doc") != main || parked_of(*n, "doc") != p) return false;
    }
    return true;
  };
  ASSERT_TRUE(eventually(
      [&] {
        return converged(winner, {{parked, loser}});
      },
      kReplicate))
      << "a: " << main_of(t.a, "doc") << " b: " << main_of(t.b, "doc")
      << " c: " << main_of(t.c, "doc");
  for (Node* n : t.all()) {
    auto d = divergences_of(*n, "doc")[0].as_object();
    EXPECT_EQ(d.at("node").as_string(), a_lost ? "alice" : "carol") << n->name();
    EXPECT_EQ(d.at("winner").as_string(), winner) << n->name();
    // The parked tip is not in plain ls-remote but is fetchable by its oid.
    auto ls = t.git_to(*n, {"ls-remote", Trio::https(*n, "doc")}, work_a);
    EXPECT_EQ(ls.out.find("refs/mesh/"), std::string::npos) << ls.out;
  }
  // The loser's next fetch is told too.
  auto fetch = t.git_to(loser_node, {"fetch", Trio::https(loser_node, "doc"), "main"},
                        a_lost ? work_a : work_c);
  ASSERT_EQ(fetch.exit, 0) << fetch.err;
  EXPECT_NE(fetch.err.find("remote: mesh: main diverged"), std::string::npos) << fetch.err;

  // Merge on any clone, push to bob: cleared everywhere.
  auto work_b = t.dir.path() / "work-b";
  ASSERT_EQ(t.git_to(t.b, {"clone", "-q", Trio::https(t.b, "doc"), work_b.string()}, {}).exit, 0);
  ASSERT_EQ(t.git_to(t.b, {"fetch", "-q", Trio::https(t.b, "doc"), loser}, work_b).exit, 0);
  ASSERT_EQ(t.git({"merge", "-q", "--no-edit", "FETCH_HEAD"}, work_b).exit, 0);
  const std::string merged = t.rev(work_b, "HEAD");
  auto p = t.git_to(t.b, {"push", Trio::https(t.b, "doc"), "main"}, work_b);
  ASSERT_EQ(p.exit, 0) << p.err;
  EXPECT_TRUE(eventually([&] { return converged(merged, {}); }, kReplicate));

  // A second conflict, dropped on bob: the winner stays, the parked tip goes, everywhere.
  ASSERT_EQ(
      t.git_to(t.a, {"pull", "-q", "--no-rebase", Trio::https(t.a, "doc"), "main"}, work_a).exit,
      0);
  ASSERT_EQ(
      t.git_to(t.c, {"pull", "-q", "--no-rebase", Trio::https(t.c, "doc"), "main"}, work_c).exit,
      0);
  t.cut(t.a, t.c);
  t.cut(t.a, t.b);  // alice alone: her push cannot be overtaken while it waits
  const std::string x2 = t.commit(work_a, "x2");
  const std::string y2 = t.commit(work_c, "y2");
  ASSERT_EQ(t.git_to(t.c, {"push", "-q", Trio::https(t.c, "doc"), "main"}, work_c).exit, 0);
  ASSERT_TRUE(eventually([&] { return main_of(t.b, "doc") == y2; }, kReplicate));
  // Alice's push waits for members it cannot reach: set a short wait for this one push by
  // running it in the background and healing meanwhile.
  auto push_x2 = std::async(std::launch::async, [&] {
    return t.git_to(t.a, {"push", Trio::https(t.a, "doc"), "main"}, work_a);
  });
  ASSERT_TRUE(eventually([&] { return main_of(t.a, "doc") == x2; }, kReplicate));
  t.heal_all();
  Proc px2 = push_x2.get();
  ASSERT_EQ(px2.exit, 0) << px2.err;
  std::string winner2, loser2;
  ASSERT_TRUE(eventually(
      [&] {
        auto w = main_of(t.a, "doc");
        if (w != x2 && w != y2) return false;
        winner2 = w;
        loser2 = w == x2 ? y2 : x2;
        return converged(winner2, {{"refs/mesh/parked/" + loser2 + "/heads/main", loser2}});
      },
      kReplicate));
  auto drop = t.b.mesh({"drop", "doc", loser2.substr(0, 10)});
  ASSERT_EQ(drop.exit, 0) << drop.err;
  EXPECT_NE(drop.out.find("dropped refs/mesh/parked/" + loser2), std::string::npos) << drop.out;
  EXPECT_TRUE(eventually([&] { return converged(winner2, {}); }, kReplicate));
  // Dropping what is not parked is an error that changes nothing.
  auto again = t.b.mesh({"drop", "doc", loser2.substr(0, 10)});
  EXPECT_EQ(again.exit, 1);
  EXPECT_NE(again.err.find("nothing parked in doc matches"), std::string::npos) << again.err;
}

// `mesh stop` on bob: alice counts him down at once (the goodbye), and a push to alice
// answers without waiting for him, naming him.
TEST(Convergence, AStoppedNodeIsDownAtOnceAndNamedByPushes) {
  Trio t("conv-stop");
  t.start_and_pair();
  auto work = t.make_repo("app", 1);
  ASSERT_EQ(t.git_to(t.a, {"push", "-q", Trio::https(t.a, "app"), "main"}, work).exit, 0);
  ASSERT_TRUE(eventually(
      [&] {
        return same_refs_everywhere(t, "app", {{"refs/heads/main", t.rev(work, "HEAD")}});
      },
      kReplicate));
  ASSERT_EQ(t.b.stop().exit, 0);
  EXPECT_TRUE(eventually([&] { return up_peers(t.a) == std::set<std::string>{"carol"}; }, 1s))
      << "alice still sees bob up 1 s after mesh stop returned";
  const std::string c2 = t.commit(work, "two");
  auto p = t.git_to(t.a, {"push", Trio::https(t.a, "app"), "main"}, work);
  ASSERT_EQ(p.exit, 0) << p.err;
  EXPECT_NE(p.err.find("remote: mesh: replicated to 2/3 nodes; bob is down and catches up when "
                       "it returns"),
            std::string::npos)
      << p.err;
  EXPECT_EQ(p.err.find("not confirmed"), std::string::npos) << p.err;  // carol answered
  EXPECT_EQ(main_of(t.c, "app"), c2);
  // bob catches up when he returns, and is up again for alice.
  ASSERT_EQ(t.b.restart().exit, 0);
  EXPECT_TRUE(eventually([&] { return main_of(t.b, "app") == c2; }, kReplicate));
  EXPECT_TRUE(eventually([&] { return up_peers(t.a).count("bob") == 1; }, 30s));
}

namespace {

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Every commit reachable from any ref of n's mirror of `repo` (parked tips included).
std::set<std::string> reachable(const Trio& t, const Node& n, const std::string& repo) {
  auto p =
      t.git({"--git-dir", (n.root() / "repos" / (repo + ".git")).string(), "rev-list", "--all"});
  auto l = lines_of(p.out);
  return {l.begin(), l.end()};
}

}  // namespace

// The invariant, tested the hard way: a few hundred random fast-forwards, force pushes,
// deletions and tags to random nodes while links are cut and healed and nodes stop and start
// at random. Once everything is healed, every node holds the same heads, tags and parked tips,
// and every commit a push was told was accepted (and nobody dropped on purpose since) is
// reachable on every node. MESH_TEST_SEED=<seed> replays the same sequence of operations.
TEST(Convergence, RandomPushesWhileLinksAreCutAndHealedConverge) {
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("MESH_TEST_SEED"); s && *s) seed = std::stoull(s);
  std::printf("random convergence: seed %llu (rerun with MESH_TEST_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  RecordProperty("seed", std::to_string(seed));
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };

  ProxiedTrio t("conv-rand", "[plugins.replication]\npush_wait_ms = 0\n");
  t.start_and_pair_proxied();
  std::vector<Node*> nodes = t.all();
  auto seed_repo = t.make_repo("seed", 1);
  ASSERT_EQ(t.git_to(t.a, {"push", "-q", Trio::https(t.a, "r"), "main"}, seed_repo).exit, 0);
  const std::string base = t.rev(seed_repo, "HEAD");
  ASSERT_TRUE(eventually(
      [&] {
        return same_refs_everywhere(t, "r", {{"refs/heads/main", base}});
      },
      kReplicate));
  // One user per node, working in a clone whose origin is that node.
  std::vector<fs::path> work;
  for (Node* n : nodes) {
    auto dir = t.dir.path() / ("user-" + n->name());
    ASSERT_EQ(t.git_to(*n, {"clone", "-q", Trio::https(*n, "r"), dir.string()}, {}).exit, 0);
    t.git({"config", "http.https://localhost:" + std::to_string(n->port()) + ".sslVerify", "false"},
          dir);
    work.push_back(dir);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  std::vector<bool> running(3, true);
  const std::vector<std::pair<int, int>> pairs = {{0, 1}, {0, 2}, {1, 2}};
  std::set<int> cut_pairs;
  std::set<std::string> expected{base};  // accepted and not dropped on purpose since
  std::vector<std::string> journal;      // what each push did, for a failure's report
  int pushes = 0, accepted = 0, cuts = 0, restarts = 0, step = 0;
  const int kPushes = 200;
  while (pushes < kPushes) {
    ++step;
    const auto r = pick(100);
    if (r < 10) {  // cut or heal a link
      int pi = static_cast<int>(pick(3));
      Node& x = *nodes[pairs[pi].first];
      Node& y = *nodes[pairs[pi].second];
      if (cut_pairs.count(pi)) {
        t.heal(x, y);
        cut_pairs.erase(pi);
      } else {
        t.cut(x, y);
        cut_pairs.insert(pi);
        ++cuts;
      }
      continue;
    }
    if (r < 12) {  // stop a node, or start the one that is stopped
      auto stopped = std::find(running.begin(), running.end(), false);
      if (stopped != running.end()) {
        auto i = static_cast<std::size_t>(stopped - running.begin());
        ASSERT_EQ(nodes[i]->restart().exit, 0) << nodes[i]->name();
        running[i] = true;
      } else {
        auto i = pick(3);
        ASSERT_EQ(nodes[i]->stop().exit, 0) << nodes[i]->name();
        running[i] = false;
        ++restarts;
      }
      continue;
    }
    const auto ni = pick(3);
    if (!running[ni]) continue;
    Node& n = *nodes[ni];
    const fs::path& w = work[ni];
    auto g = [&](const std::vector<std::string>& args) { return t.git(args, w); };
    if (g({"fetch", "-q", "--prune", "--prune-tags", "--tags", "origin"}).exit != 0) continue;
    ++pushes;
    const std::string branch = std::vector<std::string>{"main", "main", "b1", "b2", "b3"}[pick(5)];
    const bool exists =
        g({"rev-parse", "-q", "--verify", "refs/remotes/origin/" + branch}).exit == 0;
    const auto op = pick(100);
    std::vector<std::string> push{"push", "--porcelain", "origin"};
    std::string old_tip = exists ? t.rev(w, "refs/remotes/origin/" + branch) : "";
    // rev-list arguments of what this push drops on purpose: the commits only the replaced tip
    // has, as this user sees the node (--exclude patterns for --remotes omit "refs/remotes/").
    std::vector<std::string> drop_args;
    const std::string msg = n.name() + "-" + std::to_string(step);
    if (op < 60 || !exists || branch == "main") {
      // A fast-forward (or a new branch from main).
      std::string start = exists ? "origin/" + branch : "origin/main";
      if (g({"rev-parse", "-q", "--verify", start}).exit != 0) continue;
      g({"checkout", "-q", "-B", "w", start});
      g({"commit", "-q", "--allow-empty", "-m", msg});
      push.push_back("HEAD:refs/heads/" + branch);
    } else if (op < 75) {  // force push: one commit replaced
      g({"checkout", "-q", "-B", "w", "origin/" + branch + "~1"});
      g({"commit", "-q", "--allow-empty", "-m", msg});
      // With a lease: git refuses if the node's branch is no longer what this user saw (a
      // plain --force would replace whatever replication put there meanwhile, unseen).
      push.insert(push.begin() + 2, "--force-with-lease=refs/heads/" + branch + ":" + old_tip);
      push.push_back("HEAD:refs/heads/" + branch);  // no '+': a '+' would override the lease
      drop_args = {"rev-list",         old_tip, "--not", "HEAD", "--exclude=origin/" + branch,
                   "--remotes=origin", "--tags"};
    } else if (op < 85) {  // deletion
      push.insert(push.begin() + 2, "--force-with-lease=refs/heads/" + branch + ":" + old_tip);
      push.push_back(":refs/heads/" + branch);
      drop_args = {"rev-list",         old_tip, "--not", "--exclude=origin/" + branch,
                   "--remotes=origin", "--tags"};
    } else {  // a tag on the node's main
      std::string tag = "t" + std::to_string(1 + pick(6));
      if (g({"rev-parse", "-q", "--verify", "refs/tags/" + tag}).exit == 0) continue;
      g({"tag", "-f", tag, "origin/main"});
      push.push_back("refs/tags/" + tag + ":refs/tags/" + tag);
    }
    std::vector<std::string> dropped;
    if (!drop_args.empty()) dropped = lines_of(g(drop_args).out);
    auto p = t.git(push, w);
    std::string entry = "#" + std::to_string(step) + " " + n.name() + ": git";
    for (std::size_t i = 2; i < push.size(); ++i) {
      if (push[i] != "origin") entry += " " + push[i].substr(0, 60);
    }
    entry += " (" + branch + " was " + (old_tip.empty() ? "absent" : old_tip.substr(0, 12)) +
             ", HEAD " + t.rev(w, "HEAD").substr(0, 12) + ")";
    for (const auto& d : dropped) entry += " drops " + d.substr(0, 12);
    for (const auto& line : lines_of(p.out)) {
      // "<flag>\t<from>:<to>\t<summary>"; ' ' fast-forward, '+' forced, '-' deleted, '*' new.
      if (line.size() < 2 || line[1] != '\t' ||
          std::string(" +-*").find(line[0]) == std::string::npos) {
        continue;
      }
      ++accepted;
      entry += " -> accepted '" + line.substr(0, 1) + "'";
      for (const auto& d : dropped) expected.erase(d);
      if (line[0] != '-') {
        std::string from = line.substr(2, line.find(':', 2) - 2);
        expected.insert(t.rev(w, from + "^{commit}"));
      }
    }
    journal.push_back(std::move(entry));
  }
  std::printf(
      "random convergence: %d pushes (%d accepted), %d link cuts, %d node stops in %.0f s\n",
      pushes, accepted, cuts, restarts, since(t0));
  std::fflush(stdout);
  EXPECT_GT(accepted, kPushes / 2);

  t.heal_all();
  for (std::size_t i = 0; i < 3; ++i) {
    if (!running[i]) {
      ASSERT_EQ(nodes[i]->restart().exit, 0);
    }
  }
  std::string report;
  auto converged = [&] {
    report.clear();
    auto refs = refs_of(t.a, "r");
    auto parked = parked_of(t.a, "r");
    bool ok = !refs.empty();
    for (Node* n : nodes) {
      if (refs_of(*n, "r") != refs) {
        ok = false;
        report += n->name() + "'s refs differ from alice's\n";
      }
      if (parked_of(*n, "r") != parked) {
        ok = false;
        report += n->name() + "'s parked tips differ from alice's\n";
      }
      auto have = reachable(t, *n, "r");
      for (const auto& c : expected) {
        if (!have.count(c)) {
          ok = false;
          report += n->name() + " cannot reach accepted commit " + c + "\n";
          for (const auto& j : journal) {
            if (j.find(c.substr(0, 12)) != std::string::npos) report += "    " + j + "\n";
          }
        }
      }
    }
    return ok;
  };
  const auto t1 = std::chrono::steady_clock::now();
  bool ok = eventually(converged, 150s);
  if (!ok) {
    for (Node* n : nodes) {
      report += "\n" + n->name() + ":\n";
      for (const auto& [ref, oid] : refs_of(*n, "r")) report += "  " + ref + " " + oid + "\n";
      for (const auto& [name, oid] : parked_of(*n, "r")) report += "  parked " + name + "\n";
    }
  }
  EXPECT_TRUE(ok) << "not converged (seed " << seed << "):\n" << report;
  std::size_t divergences = parked_of(t.a, "r").size();
  std::printf(
      "random convergence: %s with %zu divergences parked on every node, %.0f s after "
      "healing\n",
      ok ? "converged" : "NOT converged", divergences, since(t1));
}
