// Nodes that come and go on a simulated mesh: a node offline during the run shows the same log
// afterwards, a restart rebuilds everything from the store (a damaged store from the feeds),
// an assignee waits for the commit to reach it, `--follow` streams, and cron slots run exactly
// once across the mesh.
#include <gtest/gtest.h>

#include "sim_trio.hpp"

using namespace mesh::ci;
using namespace mesh::ci::sim;

namespace {

std::size_t runs_with_trigger(SimNode& n, const std::string& trigger) {
  std::size_t k = 0;
  for (const RunState* r : n.ci->shared().book.runs()) k += r->spec.trigger == trigger;
  return k;
}

}  // namespace

TEST(CiNodes, ANodeOfflineDuringTheRunShowsTheSameLogAfterwards) {
  Trio t;
  t.start();
  t.b.runners.clear();
  t.b.connected = false;
  std::string sha = t.push(t.a, kTwoJobs);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] {
    return t.a.run(id) && t.a.run(id)->phase == RunPhase::passed &&
           t.c.run(id)->phase == RunPhase::passed;
  }));
  EXPECT_EQ(t.b.run(id), nullptr);
  std::string log = logs_of(t.a, id);
  t.b.connected = true;
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::passed); }));
  EXPECT_EQ(logs_of(t.b, id), log);
  // And after a restart, from bob's own store.
  t.b.stop();
  t.b.start();
  ASSERT_TRUE(t.b.run(id));
  EXPECT_EQ(t.b.run(id)->phase, RunPhase::passed);
  EXPECT_EQ(logs_of(t.b, id), log);
  EXPECT_EQ(t.b.ci->shared().book.size(), 1u);
}

TEST(CiNodes, ADamagedStoreIsRebuiltUnderANewCursor) {
  Trio t;
  t.start();
  std::string sha = t.push(t.a, kTwoJobs);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::passed); }));
  t.b.stop();
  fs::path rec = t.b.root / "data" / "runs" / (id + ".rec");
  ASSERT_TRUE(fs::exists(rec));
  {
    std::fstream f(rec, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);
    f.write("garbage!", 8);
  }
  auto s = parse_settings("{}");
  Ci ci(t.b, *s, t.b.root / "data", t.repos, t.b.id, "bob");
  std::string cursor = ci.open();
  EXPECT_TRUE(cursor.starts_with("records-")) << cursor;
  EXPECT_EQ(ci.shared().book.size(), 0u);  // the host delivers everything again to that cursor
  ci.stop();
  auto again = std::make_unique<Ci>(t.b, *s, t.b.root / "data", t.repos, t.b.id, "bob");
  EXPECT_EQ(again->open(), cursor);  // kept until the next rebuild
  again->stop();
}

TEST(CiNodes, AnAssigneeWaitsForTheCommitAndAsksReplicationForIt) {
  TempDir dir;
  SimNet net;
  fs::path shared = dir.path() / "repos", late = dir.path() / "late";
  SimNode& a = net.add("alice", 'a', dir.path() / "a", shared);
  SimNode& c = net.add("carol", 'c', dir.path() / "c", late);
  a.runs_jobs = false;
  c.runners = {RunnerInfo{"shell", {"shell"}, {"linux"}, 2, 2}};
  WorkRepo work(dir.path() / "work", "my-app");
  a.start();
  c.start();
  net.advance(1000);
  std::string sha = work.commit({{".mesh/mesh-ci.yml", kTwoJobs}}, "c1");
  work.push_to(shared);
  net.pushed(a, "my-app", "refs/heads/main", kZero, sha);
  std::string id = run_id("my-app", "refs/heads/main", sha, trigger_key_push());
  ASSERT_TRUE(net.until([&] { return !c.syncs.empty(); }, 3'000));
  EXPECT_EQ(c.syncs[0], R"({"repo":"my-app"})");
  EXPECT_EQ(c.run(id)->phase, RunPhase::assigned);  // not claimed without the commit
  work.push_to(late);                               // replication brings it
  ASSERT_TRUE(net.until([&] { return c.run(id)->phase == RunPhase::passed; }, 10'000));
  // A commit that never arrives: declined after commit_wait_ms, and with nobody else, failed.
  std::string sha2 = work.commit({{"f", "2"}}, "c2");
  work.push_to(shared);
  net.pushed(a, "my-app", "refs/heads/main", sha, sha2);
  std::string id2 = run_id("my-app", "refs/heads/main", sha2, trigger_key_push());
  ASSERT_TRUE(
      net.until([&] { return a.run(id2) && a.run(id2)->phase == RunPhase::failed; }, 20'000));
  EXPECT_NE(a.run(id2)->reason.find("did not reach this node within 8s"), std::string::npos)
      << a.run(id2)->reason;
}

TEST(CiNodes, FollowStreamsAJobAsItRunsFromAnotherNode) {
  Trio t;
  t.c.auto_run = false;
  t.start();
  std::string sha = t.push(t.a, kTwoJobs);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] {
    const RunState* r = t.b.run(id);
    return r && r->jobs[0].phase == JobPhase::running;
  }));
  t.c.job("build")->log("first line\n");
  t.net.pump();
  CliOut out = t.b.cli({"logs", "my-app", id.substr(0, 7), "--follow"}, false, 77);
  ASSERT_TRUE(out.pending);
  EXPECT_EQ(t.b.chunks[77], "==> build <==\nfirst line\n");  // what came before the follow
  t.c.job("build")->log("second line\n");
  t.net.pump();
  EXPECT_EQ(t.b.chunks[77], "==> build <==\nfirst line\nsecond line\n");
  t.c.finish("build", JobOutcome::passed, 0);
  ASSERT_TRUE(t.net.until([&] { return t.c.job("test") != nullptr; }));
  t.c.job("test")->log("testing\n");
  t.c.finish("test", JobOutcome::passed, 0);
  ASSERT_TRUE(t.net.until([&] { return t.b.responses.count(77) > 0; }));
  EXPECT_EQ(t.b.responses[77], "0:run " + short_run_id(id) + " passed\n");
  const std::string& all = t.b.chunks[77];
  EXPECT_NE(all.find("second line\n[build passed"), std::string::npos) << all;
  EXPECT_NE(all.find("==> test <==\ntesting\n[test passed"), std::string::npos) << all;
  // --follow --json answers once, at the end, with the whole log.
  CliOut done = t.a.cli({"logs", "my-app", id.substr(0, 7), "--follow"}, true, 78);
  ASSERT_TRUE(done.pending);
  ASSERT_TRUE(t.net.until([&] { return t.a.responses.count(78) > 0; }));
  auto v = boost::json::parse(t.a.responses[78].substr(2));
  EXPECT_EQ(v.at("jobs").as_array()[0].at("log").as_string(), "first line\nsecond line\n");
}

TEST(CiNodes, EveryCronSlotRunsExactlyOnceAcrossTheMesh) {
  Trio t;
  t.a.runs_jobs = true;
  t.a.runners = {RunnerInfo{"shell", {"shell"}, {"linux"}, 2, 2}};
  t.b.runners[0].labels = {"linux"};
  t.start();
  std::string pipeline = R"(on: { schedule: [{ cron: "* * * * *" }] }
runner: { labels: [linux] }
jobs:
  tick: { commands: ["echo tick"] }
)";
  t.work.commit({{".mesh/mesh-ci.yml", pipeline}}, "cron");
  t.work.push_to(t.repos);
  t.net.wall -= t.net.wall % 60'000;  // a minute boundary
  t.net.wall += 30'000;
  t.net.advance(3 * 60'000);
  ASSERT_TRUE(t.net.until([&] {
    for (SimNode* n : {&t.a, &t.b, &t.c}) {
      for (const RunState* r : n->ci->shared().book.runs()) {
        if (!is_terminal(r->phase)) return false;
      }
    }
    return true;
  }));
  for (SimNode* n : {&t.a, &t.b, &t.c}) {
    EXPECT_EQ(runs_with_trigger(*n, "schedule"), 3u) << n->name;
    EXPECT_EQ(n->ci->shared().slots.size(), 3u) << n->name;
  }
  std::size_t jobs = t.a.jobs.size() + t.b.jobs.size() + t.c.jobs.size();
  EXPECT_EQ(jobs, 3u);
  for (const RunState* r : t.a.ci->shared().book.runs()) {
    EXPECT_EQ(r->phase, RunPhase::passed) << r->reason;
    EXPECT_EQ(r->originator, r->assignee());  // the elected node runs its slot
  }
}

TEST(CiNodes, SlotsMissedWhileEveryNodeWasOffAreRecordedNotRun) {
  Trio t;
  t.b.runners[0].labels = {"linux"};
  t.start();
  std::string pipeline = R"(on: { schedule: [{ cron: "*/10 * * * *" }] }
runner: { labels: [linux] }
jobs:
  tick: { commands: ["echo tick"] }
)";
  t.work.commit({{".mesh/mesh-ci.yml", pipeline}}, "cron");
  t.work.push_to(t.repos);
  t.net.advance(6000);  // every node has scanned once
  for (SimNode* n : {&t.a, &t.b, &t.c}) n->stop();
  t.net.wall += 35 * 60'000;  // three slots pass while the mesh is off
  t.net.mono += 35 * 60'000;
  for (SimNode* n : {&t.a, &t.b, &t.c}) n->start();
  t.net.advance(10'000);
  std::size_t missed = 0, claimed = 0;
  for (SimNode* n : {&t.a, &t.b, &t.c}) EXPECT_EQ(runs_with_trigger(*n, "schedule"), 0u);
  for (const auto& e : t.net.feed) {
    missed += e.payload.find("\"slot.missed\"") != std::string::npos;
    claimed += e.payload.find("\"slot.claimed\"") != std::string::npos;
  }
  EXPECT_GE(missed, 3u);
  EXPECT_EQ(claimed, 0u);
}
