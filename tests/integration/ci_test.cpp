// CI across three real daemons (alice, bob, carol) with real git pushes and the real
// runner-shell: a two-job DAG pushed on alice runs on carol (the linux runner) and passes on
// every node with the same log, also on bob, which was stopped during the run; the push says
// where the run went; the pipeline is read at the pushed sha; secrets reach only the jobs that
// declare them and are masked (raw, base64, URL-encoded) in every node's log; `fallback: none`
// with no labelled runner ends `no-runner` with nothing run; a cancel kills a `sleep 300` job's
// whole process group; a runner killed with -9 mid-job loses the lease and the run moves on.
#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <thread>

#include "ci_util.hpp"

namespace fs = std::filesystem;
using namespace mesh::test;
using namespace mesh::test::ci;
using namespace std::chrono_literals;

TEST(Ci, TwoJobDagOnTheLabelledRunnerPassesEverywhereWithTheSameLog) {
  CiTrio t("ci-dag");
  t.start_and_pair();
  ASSERT_TRUE(t.runners_seen(t.a, 2));
  auto work = t.make_repo("app", 1);
  std::string pipeline = R"(pipeline: { name: build }
on: { push: { branches: [main] }, manual: true }
runner: { labels: [linux], fallback: any }
jobs:
  build: { mode: shell, commands: ["echo building on $MESH_REPO", "sleep 3", "echo built > artefact"] }
  test:  { mode: shell, commands: ["cat artefact", "echo tested"], depends_on: [build] }
)";
  ASSERT_EQ(t.b.stop().exit, 0);  // bob is away for the whole run
  Proc push = t.push(t.a, work, pipeline);
  ASSERT_EQ(push.exit, 0) << push.err;
  std::string line;
  std::string id = run_of_push(push, &line);
  ASSERT_FALSE(id.empty()) << push.err;
  EXPECT_NE(line.find("queued (build, test) -> carol"), std::string::npos) << line;
  ASSERT_TRUE(eventually([&] { return state_on(t.a, "app", id) == "passed"; }, 60s))
      << explain_run(t.all(), t.a, "app", id);
  ASSERT_TRUE(eventually([&] { return state_on(t.c, "app", id) == "passed"; }, 20s));
  auto run = run_on(t.c, "app", id);
  EXPECT_EQ(run.at("runner").at("name").as_string(), "carol");
  EXPECT_EQ(run.at("trigger").as_string(), "push");
  EXPECT_EQ(run.at("sha").as_string(), t.rev(work, "HEAD"));
  const auto& jobs = run.at("jobs").as_array();
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].at("state").as_string(), "passed");
  EXPECT_EQ(jobs[1].at("state").as_string(), "passed");
  EXPECT_LE(jobs[0].at("ended_ms").as_int64(), jobs[1].at("started_ms").as_int64());
  std::string log = logs_on(t.a, "app", id);
  EXPECT_NE(log.find("building on app"), std::string::npos) << log;
  EXPECT_NE(log.find("built\n"), std::string::npos) << log;
  EXPECT_NE(log.find("tested"), std::string::npos) << log;
  EXPECT_EQ(logs_on(t.c, "app", id), log);
  // Bob comes back and catches up on the records and the stored log.
  ASSERT_EQ(t.b.restart().exit, 0);
  ASSERT_TRUE(eventually([&] { return state_on(t.b, "app", id) == "passed"; }, 60s));
  ASSERT_TRUE(eventually([&] { return logs_on(t.b, "app", id) == log; }, 30s))
      << logs_on(t.b, "app", id);
  auto logs_json = t.b.mesh_json({"ci", "logs", "app", id});
  EXPECT_EQ(logs_json.at("jobs").as_array().size(), 2u);
  // Only alice, which received the push, created the run: the relayed refs event started
  // nothing on carol or bob (a second run.created would be logged as refused by the fold).
  for (Node* n : t.all()) {
    EXPECT_TRUE(log_lines_with(*n, "already created").empty()) << n->name();
    EXPECT_TRUE(log_lines_with(*n, "duplicate run.created").empty()) << n->name();
  }
  EXPECT_EQ(std::string(run_on(t.b, "app", id).at("id").as_string()).size(), 64u);
}

TEST(Ci, PipelineAtTheShaSecretsMaskedNoRunnerAndCancel) {
  CiTrio t("ci-more");
  // carol has two secrets; its jobs may use only what they declare.
  {
    std::ofstream f(t.c.root() / "secrets.yml");
    f << "secrets:\n  API_TOKEN: \"p@ss w/rd&x=1-s3cr3t\"\n  OTHER: \"never-in-a-job-42\"\n";
  }
  ::chmod((t.c.root() / "secrets.yml").c_str(), 0600);
  t.start_and_pair();
  ASSERT_TRUE(t.runners_seen(t.b, 2));
  auto work = t.make_repo("app", 1);

  // The pipeline is the pushed commit's: a second push that changes it right away does not
  // change the first run.
  std::string one =
      "runner: { labels: [linux] }\njobs:\n  only: { commands: [\"echo pipeline one\"] }\n";
  std::string two =
      "runner: { labels: [linux] }\njobs:\n  only: { commands: [\"echo pipeline two\"] }\n";
  Proc p1 = t.push(t.a, work, one);
  Proc p2 = t.push(t.a, work, two);
  std::string id1 = run_of_push(p1), id2 = run_of_push(p2);
  ASSERT_FALSE(id1.empty()) << p1.err;
  ASSERT_FALSE(id2.empty()) << p2.err;
  ASSERT_TRUE(eventually(
      [&] {
        return state_on(t.b, "app", id1) == "passed" && state_on(t.b, "app", id2) == "passed";
      },
      60s));
  EXPECT_NE(logs_on(t.b, "app", id1).find("pipeline one"), std::string::npos);
  EXPECT_EQ(logs_on(t.b, "app", id1).find("pipeline two"), std::string::npos);
  EXPECT_NE(logs_on(t.b, "app", id2).find("pipeline two"), std::string::npos);

  // Secrets: raw, base64 and URL-encoded forms never reach any node's log.
  std::string secret = R"(runner: { labels: [linux] }
jobs:
  deploy:
    secrets: [API_TOKEN]
    commands:
      - echo "raw:$API_TOKEN"
      - printf %s "$API_TOKEN" | base64
      - python3 -c 'import os, urllib.parse; print("url:" + urllib.parse.quote(os.environ["API_TOKEN"], safe=""))'
      - env | sort
)";
  Proc ps = t.push(t.a, work, secret);
  std::string ids = run_of_push(ps);
  ASSERT_FALSE(ids.empty()) << ps.err;
  ASSERT_TRUE(eventually([&] { return state_on(t.a, "app", ids) == "passed"; }, 60s))
      << explain_run(t.all(), t.a, "app", ids);
  for (Node* n : t.all()) {
    std::string log;
    ASSERT_TRUE(eventually(
        [&] {
          log = logs_on(*n, "app", ids);
          return log.find("[deploy passed") != std::string::npos;
        },
        20s))
        << n->name() << ": " << log;
    EXPECT_NE(log.find("raw:***"), std::string::npos) << n->name() << ": " << log;
    EXPECT_NE(log.find("url:***"), std::string::npos) << n->name() << ": " << log;
    for (const char* leak : {"p@ss w/rd&x=1-s3cr3t", "cEBzcyB3L3JkJng9MS1zM2NyM3Q",
                             "p%40ss%20w%2Frd%26x%3D1-s3cr3t", "never-in-a-job-42", "OTHER="}) {
      EXPECT_EQ(log.find(leak), std::string::npos) << n->name() << " shows " << leak << ":\n"
                                                   << log;
    }
    EXPECT_NE(log.find("MESH_RUN="), std::string::npos);
  }

  // fallback: none and nobody with the label: no-runner, and nothing ran anywhere.
  fs::path marker = t.dir.path() / "ran";
  std::string gpu = "runner: { labels: [gpu], fallback: none }\njobs:\n  x: { commands: [\"touch " +
                    marker.string() + "\"] }\n";
  Proc pg = t.push(t.a, work, gpu);
  std::string line;
  std::string idg = run_of_push(pg, &line);
  ASSERT_FALSE(idg.empty()) << pg.err;
  EXPECT_NE(line.find("no-runner: no runner up for mode shell with label gpu (fallback: none)"),
            std::string::npos)
      << line;
  for (Node* n : t.all()) {
    ASSERT_TRUE(eventually([&] { return state_on(*n, "app", idg) == "no-runner"; }, 20s));
    // Ended before any assignment: no node ever held it (the fold refuses later ones).
    EXPECT_TRUE(run_on(*n, "app", idg).at("runner").is_null()) << n->name();
  }
  EXPECT_FALSE(fs::exists(marker));

  // Cancel of a `sleep 300` job: its process group, grandchildren included, is gone in 2 s.
  fs::path pgid_file = t.dir.path() / "pgid";
  std::string slow = "runner: { labels: [linux] }\njobs:\n  slow: { commands: [\"echo $$ > " +
                     pgid_file.string() + "\", \"sleep 300 & sleep 300; wait\"] }\n";
  Proc pc = t.push(t.a, work, slow);
  std::string idc = run_of_push(pc);
  ASSERT_FALSE(idc.empty()) << pc.err;
  int pgid = 0;
  ASSERT_TRUE(eventually(
      [&] {
        std::ifstream in(pgid_file);
        return (in >> pgid) && pgid > 0 && group_alive(pgid);
      },
      30s));
  auto cancel = t.b.mesh({"--json", "ci", "cancel", idc});
  ASSERT_EQ(cancel.exit, 0) << cancel.err;
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return !group_alive(pgid); }, 2s)) << "the job's group survived";
  EXPECT_LE(std::chrono::steady_clock::now() - started, 2500ms);
  for (Node* n : t.all())
    ASSERT_TRUE(eventually([&] { return state_on(*n, "app", idc) == "cancelled"; }, 20s));
  EXPECT_EQ(std::string(run_on(t.a, "app", idc).at("reason").as_string()),
            "cancelled by bob (mesh ci cancel)");
  auto again = t.b.mesh({"ci", "cancel", idc});
  EXPECT_EQ(again.exit, 1);
  EXPECT_NE(again.err.find("has already ended"), std::string::npos) << again.err;
}

TEST(Ci, ARunnerKilledMidJobLosesTheLeaseAndTheRunIsReassigned) {
  CiTrio t("ci-kill");
  t.start_and_pair();
  ASSERT_TRUE(t.runners_seen(t.a, 2));
  auto work = t.make_repo("app", 1);
  // On carol the job hangs (its worktree is under carol's root); elsewhere it finishes.
  std::string pipeline = std::string(R"(runner: { labels: [linux], fallback: any }
jobs:
  build: { commands: ["echo start", "case \"$PWD\" in )") +
                         t.c.root().string() + R"(/*) sleep 300;; esac", "echo finished"] }
)";
  Proc push = t.push(t.a, work, pipeline);
  std::string id = run_of_push(push);
  ASSERT_FALSE(id.empty()) << push.err;
  ASSERT_TRUE(eventually(
      [&] {
        auto r = run_on(t.a, "app", id);
        return !r.is_null() && r.at("jobs").as_array()[0].at("state").as_string() == "running";
      },
      30s));
  EXPECT_EQ(run_on(t.a, "app", id).at("runner").at("name").as_string(), "carol");
  t.c.kill9();
  ASSERT_TRUE(eventually([&] { return state_on(t.a, "app", id) == "passed"; }, 90s))
      << state_on(t.a, "app", id);
  auto r = run_on(t.b, "app", id);
  EXPECT_EQ(r.at("runner").at("name").as_string(), "bob");
  auto detail = t.a.mesh({"ci", "status", "--run", id});
  EXPECT_NE(detail.out.find("carol lost the lease"), std::string::npos) << detail.out;
  EXPECT_NE(logs_on(t.a, "app", id).find("finished"), std::string::npos);
  // What the killed daemon's job left running is not the mesh's any more.
  for (int pid : processes_under(t.c.root())) ::kill(pid, SIGKILL);
}

TEST(Ci, TheRunPagesAndTheLiveLogOverServerSentEvents) {
  CiTrio t("ci-web");
  t.start_and_pair();
  ASSERT_TRUE(t.runners_seen(t.b, 2));
  auto work = t.make_repo("app", 1);
  std::string pipeline = R"(runner: { labels: [linux] }
jobs:
  build: { commands: ["echo first-line", "sleep 4", "echo '<b>second-line</b>'"] }
)";
  Proc push = t.push(t.a, work, pipeline);
  std::string id = run_of_push(push);
  ASSERT_FALSE(id.empty()) << push.err;
  ASSERT_TRUE(eventually([&] { return !run_on(t.b, "app", id).is_null(); }, 10s));
  std::string full(run_on(t.b, "app", id).at("id").as_string());
  // bob follows the run's channel while carol runs it.
  Proc events;
  std::thread sse([&] {
    events = run({"curl", "-sN", "--max-time", "15", t.b.http_url("/events?ch=ci/run/" + full)});
  });
  bool passed = eventually([&] { return state_on(t.b, "app", id) == "passed"; }, 40s);
  sse.join();  // before any assertion can return (curl ends by --max-time at the latest)
  ASSERT_TRUE(passed) << explain_run(t.all(), t.b, "app", id);
  EXPECT_NE(events.out.find("event: log"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("second-line"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("event: section"), std::string::npos) << events.out;

  auto runs_page = run({"curl", "-sf", t.b.http_url("/repos/app/ci")});
  ASSERT_EQ(runs_page.exit, 0);
  EXPECT_NE(runs_page.out.find(id), std::string::npos);
  EXPECT_NE(runs_page.out.find("state-passed"), std::string::npos);
  EXPECT_NE(runs_page.out.find(">CI<"), std::string::npos);  // the repo tab
  auto page = run({"curl", "-sf", t.a.http_url("/repos/app/ci/" + full)});
  ASSERT_EQ(page.exit, 0);
  EXPECT_NE(page.out.find("&lt;b&gt;second-line&lt;/b&gt;"), std::string::npos) << page.out;
  EXPECT_EQ(page.out.find("<b>second-line"), std::string::npos);
  EXPECT_NE(page.out.find("/assets/ci/ci.js"), std::string::npos);
  auto js = run({"curl", "-sf", t.a.http_url("/assets/ci/ci.js")});
  EXPECT_EQ(js.exit, 0);
  auto log = run({"curl", "-sf", t.c.http_url("/repos/app/ci/" + full + "/log/build")});
  EXPECT_NE(log.out.find("first-line"), std::string::npos);
  // A state change without the CSRF token is refused by the host before the plugin sees it.
  auto forged = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                     t.a.http_url("/repos/app/ci/" + full + "/cancel")});
  EXPECT_EQ(forged.out, "403");
}
