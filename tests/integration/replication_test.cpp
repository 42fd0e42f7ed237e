// Repo replication end to end (issue #4): three real daemons on 127.0.0.1, the real git
// client pushing and cloning over https and http, observed through `mesh repos --json`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "harness.hpp"
#include "trio.hpp"

using namespace mesh::test;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// The issue asks for 5 s; sanitizer builds get more room (the figure is reported by the bench).
constexpr auto kReplicate = 30s;

}  // namespace

TEST(Replication, PushOverHttpsAndHttpReachesEveryNode) {
  Trio t("repl-push");
  t.start_and_pair();
  auto work = t.make_repo("app", 2);
  auto push = t.git_to(t.a, {"push", "-q", Trio::https(t.a, "app"), "main"}, work);
  ASSERT_EQ(push.exit, 0) << push.err;
  std::map<std::string, std::string> want{{"refs/heads/main", t.rev(work, "HEAD")}};
  EXPECT_EQ(refs_of(t.a, "app"), want);
  EXPECT_TRUE(eventually([&] { return same_refs_everywhere(t, "app", want); }, kReplicate))
      << "b: " << refs_of(t.b, "app").size() << " c: " << refs_of(t.c, "app").size();

  // A second commit over plain http (loopback only).
  std::string c3 = t.commit(work, "third");
  push = t.git({"push", "-q", Trio::http(t.a, "app"), "main"}, work);
  ASSERT_EQ(push.exit, 0) << push.err;
  want["refs/heads/main"] = c3;
  EXPECT_TRUE(eventually([&] { return same_refs_everywhere(t, "app", want); }, kReplicate));

  // A clone from C has the same history.
  auto clone_dir = t.dir.path() / "clone-c";
  auto clone = t.git_to(t.c, {"clone", "-q", Trio::https(t.c, "app"), clone_dir.string()}, {});
  ASSERT_EQ(clone.exit, 0) << clone.err;
  EXPECT_EQ(t.rev(clone_dir, "HEAD"), c3);
  EXPECT_EQ(t.git({"rev-list", "--count", "HEAD"}, clone_dir).out, "3\n");
}

TEST(Replication, TagsDeletionsAndForcePushesReplicate) {
  Trio t("repl-refs");
  t.start_and_pair();
  auto work = t.make_repo("lib", 3);
  const std::string url = Trio::https(t.a, "lib");
  ASSERT_EQ(t.git({"tag", "-a", "v1", "-m", "release one"}, work).exit, 0);
  ASSERT_EQ(t.git({"branch", "topic"}, work).exit, 0);
  auto p = t.git_to(t.a, {"push", "-q", url, "main", "topic", "v1"}, work);
  ASSERT_EQ(p.exit, 0) << p.err;
  std::map<std::string, std::string> want{{"refs/heads/main", t.rev(work, "main")},
                                          {"refs/heads/topic", t.rev(work, "topic")},
                                          {"refs/tags/v1", t.rev(work, "v1")}};
  ASSERT_TRUE(eventually([&] { return same_refs_everywhere(t, "lib", want); }, kReplicate));

  // Delete the branch and force main back by one commit, in one push.
  p = t.git_to(t.a, {"push", "-q", "--force", url, ":topic", "HEAD~1:main"}, work);
  ASSERT_EQ(p.exit, 0) << p.err;
  want.erase("refs/heads/topic");
  want["refs/heads/main"] = t.rev(work, "HEAD~1");
  EXPECT_TRUE(eventually([&] { return same_refs_everywhere(t, "lib", want); }, kReplicate));
  for (Node* n : t.all()) EXPECT_TRUE(divergences_of(*n, "lib").empty()) << n->name();
}

TEST(Replication, AStoppedNodeCatchesUpWithoutACommand) {
  Trio t("repl-offline");
  t.start_and_pair();
  auto work = t.make_repo("svc", 1);
  const std::string url = Trio::https(t.a, "svc");
  ASSERT_EQ(t.git_to(t.a, {"push", "-q", url, "main"}, work).exit, 0);
  ASSERT_TRUE(eventually([&] { return !refs_of(t.b, "svc").empty(); }, kReplicate));

  ASSERT_EQ(t.b.stop().exit, 0);
  for (int i = 0; i < 3; ++i) {
    t.commit(work, "offline " + std::to_string(i));
    ASSERT_EQ(t.git_to(t.a, {"push", "-q", url, "main"}, work).exit, 0);
  }
  ASSERT_EQ(t.b.restart().exit, 0);
  std::map<std::string, std::string> want{{"refs/heads/main", t.rev(work, "HEAD")}};
  EXPECT_TRUE(eventually([&] { return refs_of(t.b, "svc") == want; }, 60s));
}

// Pushes made while the team was split (X on A with B and C down, then Y on B with A down)
// converge once everyone is back: one main on all three, the other tip parked under the same
// name on all three, both commits kept everywhere; a merge pushed to any node clears it.
TEST(Replication, OfflineDivergenceConvergesEverywhereAndAMergeClearsIt) {
  Trio t("repl-diverge");
  t.start_and_pair();
  auto work = t.make_repo("doc", 1);
  ASSERT_EQ(t.git_to(t.a, {"push", "-q", Trio::https(t.a, "doc"), "main"}, work).exit, 0);
  const std::string base = t.rev(work, "HEAD");
  ASSERT_TRUE(eventually(
      [&] {
        return same_refs_everywhere(t, "doc", {{"refs/heads/main", base}});
      },
      kReplicate));

  ASSERT_EQ(t.b.stop().exit, 0);
  ASSERT_EQ(t.c.stop().exit, 0);
  // A's page shows both peers down.
  EXPECT_TRUE(eventually(
      [&] {
        auto html = page_of(t.a);
        return row_with(html, "bob").find("<td>down</td>") != std::string::npos &&
               row_with(html, "carol").find("<td>down</td>") != std::string::npos;
      },
      30s))
      << page_of(t.a);
  std::string x = t.commit(work, "x");
  ASSERT_EQ(t.git_to(t.a, {"push", "-q", Trio::https(t.a, "doc"), "main"}, work).exit, 0);
  ASSERT_EQ(t.a.stop().exit, 0);
  ASSERT_EQ(t.b.restart().exit, 0);
  ASSERT_EQ(t.git({"reset", "-q", "--hard", base}, work).exit, 0);
  std::string y = t.commit(work, "y");
  auto p = t.git_to(t.b, {"push", "-q", Trio::https(t.b, "doc"), "main"}, work);
  ASSERT_EQ(p.exit, 0) << p.err;
  ASSERT_EQ(t.a.restart().exit, 0);
  ASSERT_EQ(t.c.restart().exit, 0);

  // One main everywhere, the other tip parked under one name everywhere.
  std::string winner, parked;
  ASSERT_TRUE(eventually(
      [&] {
        std::set<std::string> mains, parks;
        for (Node* n : t.all()) {
          auto divs = divergences_of(*n, "doc");
          if (divs.size() != 1) return false;
          mains.insert(refs_of(*n, "doc")["refs/heads/main"]);
          parks.insert(std::string(divs[0].at("parked_as").as_string()));
        }
        if (mains.size() != 1 || parks.size() != 1) return false;
        winner = *mains.begin();
        parked = *parks.begin();
        return winner == x || winner == y;
      },
      60s))
      << "a: " << refs_of(t.a, "doc")["refs/heads/main"]
      << " b: " << refs_of(t.b, "doc")["refs/heads/main"]
      << " c: " << refs_of(t.c, "doc")["refs/heads/main"];
  const std::string loser = winner == x ? y : x;
  auto da = divergences_of(t.a, "doc")[0].as_object();
  EXPECT_EQ(da.at("ref").as_string(), "refs/heads/main");
  EXPECT_EQ(da.at("oid").as_string(), loser);
  EXPECT_EQ(da.at("node").as_string(), loser == x ? "alice" : "bob");
  EXPECT_EQ(parked, "refs/mesh/parked/" + loser + "/heads/main");
  // The page and `mesh status` show it with the commands that resolve it (replication's status
  // section follows the mirrors within a second).
  std::string html;
  ASSERT_TRUE(eventually(
      [&] {
        html = page_of(t.a);
        return html.find("<p class=\"divergence\">") != std::string::npos;
      },
      10s))
      << html;
  const auto div_at = html.find("<p class=\"divergence\">");
  const std::string div = html.substr(div_at, html.find("</p>", div_at) - div_at);
  EXPECT_NE(div.find(parked), std::string::npos) << div;
  EXPECT_NE(div.find("git merge FETCH_HEAD &amp;&amp; git push"), std::string::npos) << div;
  auto status = t.a.mesh({"status"});
  EXPECT_NE(status.out.find(std::string(da.at("resolve").as_string())), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find(std::string(da.at("discard").as_string())), std::string::npos)
      << status.out;
  for (Node* n : t.all()) {
    for (const auto& oid : {x, y}) {
      auto cat = t.git({"--git-dir", (n->root() / "repos" / "doc.git").string(), "cat-file", "-e",
                        oid + "^{commit}"});
      EXPECT_EQ(cat.exit, 0) << n->name() << " lost " << oid;
    }
  }
  // Plain ls-remote does not show parked tips.
  auto ls = t.git_to(t.c, {"ls-remote", Trio::https(t.c, "doc")}, work);
  ASSERT_EQ(ls.exit, 0) << ls.err;
  EXPECT_EQ(ls.out.find("refs/mesh/"), std::string::npos) << ls.out;

  // Merge both on C (the parked tip is fetchable by its oid, as the command says) and push:
  // the divergence clears everywhere.
  ASSERT_EQ(t.git({"reset", "-q", "--hard", winner}, work).exit, 0);
  p = t.git_to(t.c, {"fetch", "-q", Trio::https(t.c, "doc"), loser}, work);
  ASSERT_EQ(p.exit, 0) << p.err;
  ASSERT_EQ(t.git({"merge", "-q", "--no-edit", "FETCH_HEAD"}, work).exit, 0);
  std::string m = t.rev(work, "HEAD");
  ASSERT_EQ(t.git_to(t.c, {"push", "-q", Trio::https(t.c, "doc"), "main"}, work).exit, 0);
  EXPECT_TRUE(eventually(
      [&] {
        for (Node* n : t.all()) {
          if (refs_of(*n, "doc")["refs/heads/main"] != m || !divergences_of(*n, "doc").empty()) {
            return false;
          }
        }
        return true;
      },
      60s));
}

TEST(Replication, BadNamesGet400AndCreateNothing) {
  TempDir dir("repl-bad");
  Node a(dir.path(), "alice");
  a.write_config({"replication"});
  ASSERT_EQ(a.start().exit, 0);
  for (const std::string& name :
       std::vector<std::string>{"../x", "-x", ".git", "a/b", std::string(300, 'a'), ".hidden"}) {
    auto p = run({"curl", "-s", "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}",
                  "http://127.0.0.1:" + std::to_string(a.port()) + "/" + name +
                      ".git/info/refs?service=git-receive-pack"});
    EXPECT_EQ(p.out, "400") << name;
  }
  // Nothing but nothing was created.
  std::error_code ec;
  auto repos = a.root() / "repos";
  std::size_t entries = 0;
  for (auto it = fs::directory_iterator(repos, ec); !ec && it != fs::directory_iterator(); ++it) {
    ++entries;
  }
  EXPECT_EQ(entries, 0u);
  EXPECT_FALSE(fs::exists(dir.path() / "x.git"));
  EXPECT_FALSE(fs::exists(a.root() / "x.git"));
}

TEST(Replication, WithoutTrustedLoopbackGitNeedsAMemberCertificate) {
  TempDir dir("repl-trust");
  Node a(dir.path(), "alice");
  a.write_config({"replication"}, "");
  {
    // trust_loopback lives in [http]; rewrite the file with it set.
    std::ifstream in(a.root() / "mesh.toml");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    text.replace(text.find("[http]\n"), 7, "[http]\ntrust_loopback = false\n");
    std::ofstream(a.root() / "mesh.toml", std::ios::trunc) << text;
  }
  ASSERT_EQ(a.start().exit, 0);
  auto home = dir.path() / "home";
  fs::create_directories(home);
  auto p = run({"git", "-c", "http.sslVerify=false", "clone", "-q",
                "https://localhost:" + std::to_string(a.port()) + "/app.git",
                (dir.path() / "clone").string()},
               {"HOME=" + home.string(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1"});
  EXPECT_NE(p.exit, 0);
  EXPECT_NE(p.err.find("403"), std::string::npos) << p.err;
}

TEST(Replication, AMistypedSettingFailsThePluginWithItsName) {
  TempDir dir("repl-cfg");
  Node a(dir.path(), "alice");
  a.write_config({"replication"}, "[plugins.replication]\npush_wiat_ms = 5\n");
  ASSERT_EQ(a.start().exit, 0);
  auto plugins = a.mesh_json({"plugins"});
  ASSERT_TRUE(plugins.is_array());
  bool seen = false;
  for (const auto& p : plugins.as_array()) {
    if (p.at("id").as_string() != "replication") continue;
    seen = true;
    EXPECT_EQ(p.at("state").as_string(), "failed");
    EXPECT_NE(std::string(p.at("error").as_string()).find("push_wiat_ms"), std::string::npos)
        << p.at("error").as_string();
  }
  EXPECT_TRUE(seen);
}

// The predecessor's bug: a node that joined after the pushes never received anything.
TEST(Replication, ANodeThatJoinsLaterGetsEveryRepo) {
  Trio t("repl-join");
  for (Node* n : t.all()) ASSERT_EQ(n->start().exit, 0) << n->name();
  ASSERT_EQ(t.b.mesh({"join", invite(t.a)}).exit, 0);
  auto work = t.make_repo("early", 2);
  ASSERT_EQ(t.git({"tag", "v0"}, work).exit, 0);
  ASSERT_EQ(t.git_to(t.a, {"push", "-q", Trio::https(t.a, "early"), "main", "v0"}, work).exit, 0);
  std::map<std::string, std::string> want{{"refs/heads/main", t.rev(work, "HEAD")},
                                          {"refs/tags/v0", t.rev(work, "HEAD")}};
  ASSERT_TRUE(eventually([&] { return refs_of(t.b, "early") == want; }, kReplicate));

  // Carol joins through bob (not the pusher) and gets the repo with no command run.
  ASSERT_EQ(t.c.mesh({"join", invite(t.b)}).exit, 0);
  EXPECT_TRUE(eventually([&] { return refs_of(t.c, "early") == want; }, 60s));
  // And pushes made on the newcomer reach the others.
  auto work2 = t.make_repo("late", 1);
  ASSERT_EQ(t.git_to(t.c, {"push", "-q", Trio::https(t.c, "late"), "main"}, work2).exit, 0);
  std::map<std::string, std::string> want2{{"refs/heads/main", t.rev(work2, "HEAD")}};
  EXPECT_TRUE(eventually(
      [&] { return refs_of(t.a, "late") == want2 && refs_of(t.b, "late") == want2; }, kReplicate));
}

// Anti-entropy without events: a ref deleted by hand in B's mirror (no refs event says so) is
// noticed through the digests and restored from the members, with no command run.
TEST(Replication, DriftInAMirrorIsRepairedFromTheDigests) {
  Trio t("repl-drift");
  t.start_and_pair();
  auto work = t.make_repo("drift", 2);
  ASSERT_EQ(t.git_to(t.a, {"push", "-q", Trio::https(t.a, "drift"), "main"}, work).exit, 0);
  std::map<std::string, std::string> want{{"refs/heads/main", t.rev(work, "HEAD")}};
  ASSERT_TRUE(eventually([&] { return same_refs_everywhere(t, "drift", want); }, kReplicate));

  auto p = t.git({"--git-dir", (t.b.root() / "repos" / "drift.git").string(), "update-ref", "-d",
                  "refs/heads/main"});
  ASSERT_EQ(p.exit, 0) << p.err;
  ASSERT_TRUE(refs_of(t.b, "drift").empty());
  // Digests are recomputed at least once a minute, then two mismatching ticks queue a sync.
  EXPECT_TRUE(eventually([&] { return refs_of(t.b, "drift") == want; }, 150s));
}

// A deletion is not undone by anti-entropy from a member that still has the ref (restored from
// a backup, say), also after every node restarted; new work under the same name replicates.
TEST(Replication, ADeletedRefStaysDeletedAcrossRestartsAndSyncs) {
  Trio t("repl-tomb");
  t.start_and_pair();
  auto work = t.make_repo("tomb", 2);
  const std::string url = Trio::https(t.a, "tomb");
  ASSERT_EQ(t.git({"branch", "feature"}, work).exit, 0);
  ASSERT_EQ(t.git_to(t.a, {"push", "-q", url, "main", "feature"}, work).exit, 0);
  const std::string tip = t.rev(work, "feature");
  std::map<std::string, std::string> want{{"refs/heads/main", t.rev(work, "main")},
                                          {"refs/heads/feature", tip}};
  ASSERT_TRUE(eventually([&] { return same_refs_everywhere(t, "tomb", want); }, kReplicate));
  ASSERT_EQ(t.git_to(t.a, {"push", "-q", url, ":feature"}, work).exit, 0);
  want.erase("refs/heads/feature");
  ASSERT_TRUE(eventually([&] { return same_refs_everywhere(t, "tomb", want); }, kReplicate));

  // All restart (nothing held in memory survives); meanwhile C's mirror gets the deleted ref
  // back, plus a branch nobody else has, whose arrival shows that a sync with C ran.
  for (Node* n : t.all()) ASSERT_EQ(n->stop().exit, 0);
  const std::string c_mirror = (t.c.root() / "repos" / "tomb.git").string();
  ASSERT_EQ(t.git({"--git-dir", c_mirror, "update-ref", "refs/heads/feature", tip}).exit, 0);
  ASSERT_EQ(
      t.git({"--git-dir", c_mirror, "update-ref", "refs/heads/marker", want.begin()->second}).exit,
      0);
  for (Node* n : t.all()) ASSERT_EQ(n->restart().exit, 0);
  ASSERT_TRUE(
      eventually([&] { return up_peers(t.a).size() == 2 && up_peers(t.b).size() == 2; }, 45s));
  ASSERT_EQ(t.a.mesh({"sync", "tomb"}).exit, 0);
  ASSERT_EQ(t.b.mesh({"sync", "tomb"}).exit, 0);
  for (Node* n : {&t.a, &t.b}) {
    EXPECT_TRUE(
        eventually([&] { return refs_of(*n, "tomb").count("refs/heads/marker") == 1; }, kReplicate))
        << n->name();
    EXPECT_EQ(refs_of(*n, "tomb").count("refs/heads/feature"), 0u) << n->name() << ": resurrected";
  }

  // New work on the deleted branch is not held back by its tombstone.
  ASSERT_EQ(t.git({"checkout", "-q", "feature"}, work).exit, 0);
  const std::string fresh = t.commit(work, "feature again");
  ASSERT_EQ(t.git_to(t.b, {"push", "-q", Trio::https(t.b, "tomb"), "feature"}, work).exit, 0);
  want["refs/heads/feature"] = fresh;
  want["refs/heads/marker"] = want["refs/heads/main"];
  EXPECT_TRUE(eventually([&] { return same_refs_everywhere(t, "tomb", want); }, kReplicate));
}
