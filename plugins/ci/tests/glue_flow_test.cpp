// The glue end to end on a simulated mesh of real Ci objects (sim_mesh.hpp): push, assignment
// to the labelled runner, DAG order, logs from every node, relayed pushes, fallback none,
// pipelines read at the pushed sha, broken pipelines, manual runs.
#include <gtest/gtest.h>

#include "sim_trio.hpp"

using namespace mesh::ci;
using namespace mesh::ci::sim;

TEST(CiFlow, PushRunsOnTheLabelledRunnerInDagOrderAndEveryNodeShowsTheLog) {
  Trio t;
  t.start();
  std::string sha = t.push(t.a, kTwoJobs);
  std::string id = t.run_id_of(sha);
  ASSERT_EQ(t.a.notes.size(), 1u);
  EXPECT_EQ(t.a.notes[0], "CI run " + short_run_id(id) + " queued (build, test) -> carol");
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::passed); }))
      << (t.a.run(id) ? std::string(to_string(t.a.run(id)->phase)) + " " + t.a.run(id)->reason
                      : "no run");
  const RunState* r = t.b.run(id);
  EXPECT_EQ(r->assignee(), t.c.id);
  EXPECT_EQ(r->originator, t.a.id);
  ASSERT_EQ(r->jobs.size(), 2u);
  EXPECT_EQ(r->jobs[0].phase, JobPhase::passed);
  EXPECT_EQ(r->jobs[1].phase, JobPhase::passed);
  EXPECT_LE(r->jobs[0].ended_ms, r->jobs[1].started_ms);  // test after build
  // Only carol ran jobs, and build's worktree output reached test.
  EXPECT_TRUE(t.a.jobs.empty());
  EXPECT_TRUE(t.b.jobs.empty());
  ASSERT_EQ(t.c.jobs.size(), 2u);
  std::string log = logs_of(t.a, id);
  EXPECT_NE(log.find("building build"), std::string::npos) << log;
  EXPECT_NE(log.find("built\ntested"), std::string::npos) << log;
  EXPECT_EQ(logs_of(t.b, id), log);
  EXPECT_EQ(logs_of(t.c, id), log);
  // The JSON forms (CLI.md keys).
  auto status = t.b.cli_json({"status", "my-app"});
  ASSERT_EQ(status.as_array().size(), 1u);
  const auto& s = status.as_array()[0].as_object();
  EXPECT_EQ(s.at("state").as_string(), "passed");
  EXPECT_EQ(s.at("runner").as_object().at("name").as_string(), "carol");
  EXPECT_EQ(s.at("trigger").as_string(), "push");
  EXPECT_EQ(s.at("sha").as_string(), sha);
  auto logs = t.c.cli_json({"logs", "my-app", id.substr(0, 6)});
  EXPECT_EQ(logs.at("run").as_string(), id);
  EXPECT_EQ(logs.at("jobs").as_array().size(), 2u);
  EXPECT_EQ(logs.at("jobs").as_array()[1].at("state").as_string(), "passed");
}

TEST(CiFlow, ARelayedPushNeverStartsARun) {
  Trio t;
  t.start();
  std::string sha = t.work.commit({{".mesh/mesh-ci.yml", kTwoJobs}}, "c1");
  t.work.push_to(t.repos);
  // bob's replication publishes the push it received; alice and carol see it relayed.
  t.net.pushed(t.b, "my-app", "refs/heads/main", kZero, sha);
  t.net.pump();
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::passed); }));
  EXPECT_EQ(t.a.run(id)->originator, t.b.id);
  EXPECT_TRUE(t.a.notes.empty());
  EXPECT_TRUE(t.c.notes.empty());
  EXPECT_EQ(t.b.notes.size(), 1u);
  // Exactly one run in the whole mesh, whose jobs ran once.
  for (SimNode* n : {&t.a, &t.b, &t.c}) EXPECT_EQ(n->ci->shared().book.size(), 1u);
  EXPECT_EQ(t.c.jobs.size(), 2u);
}

TEST(CiFlow, FallbackNoneWithoutALabelledRunnerEndsNoRunnerAndRunsNothing) {
  Trio t;
  t.c.runners[0].labels = {};  // nobody has linux
  t.start();
  std::string pipeline = kTwoJobs;
  pipeline.replace(pipeline.find("fallback: any"), 13, "fallback: none");
  std::string sha = t.push(t.a, pipeline);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::no_runner); }));
  const RunState* r = t.c.run(id);
  EXPECT_NE(r->reason.find("no runner up for mode shell with label linux (fallback: none)"),
            std::string::npos)
      << r->reason;
  EXPECT_NE(t.a.notes[0].find("no-runner: no runner up"), std::string::npos) << t.a.notes[0];
  t.net.advance(40'000);
  for (SimNode* n : {&t.a, &t.b, &t.c}) EXPECT_TRUE(n->jobs.empty()) << n->name;
  for (const auto& j : r->jobs) EXPECT_EQ(j.phase, JobPhase::skipped);
}

TEST(CiFlow, ThePipelineIsReadAtThePushedSha) {
  Trio t;
  t.start();
  std::string first = t.work.commit(
      {{".mesh/mesh-ci.yml",
        "runner: { fallback: any }\njobs:\n  only: { commands: [\"echo first pipeline\"] }\n"}},
      "c1");
  t.work.push_to(t.repos);
  // A later commit changes the pipeline before the first push's run starts.
  std::string second = t.work.commit(
      {{".mesh/mesh-ci.yml",
        "runner: { fallback: any }\njobs:\n  only: { commands: [\"echo second pipeline\"] }\n"}},
      "c2");
  t.work.push_to(t.repos);
  t.net.pushed(t.a, "my-app", "refs/heads/main", kZero, first);
  t.net.pump();
  std::string id = t.run_id_of(first);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::passed); }));
  std::string log = logs_of(t.b, id);
  EXPECT_NE(log.find("first pipeline"), std::string::npos) << log;
  EXPECT_EQ(log.find("second pipeline"), std::string::npos) << log;
  // The run's worktree was the first commit.
  auto j = t.b.jobs.empty() ? t.c.job("only") : t.b.job("only");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->job.sha, first);
  bool has_sha = false;
  for (const auto& [n, v] : j->job.env) has_sha = has_sha || (n == "MESH_SHA" && v == first);
  EXPECT_TRUE(has_sha);
  (void)second;
}

TEST(CiFlow, ABrokenPipelineMakesAFailedRunWithLineAndColumn) {
  Trio t;
  t.start();
  std::string sha = t.push(t.a, "jobs:\n  build: { mode: shell, comands: [\"make\"] }\n");
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::failed); }));
  const RunState* r = t.b.run(id);
  EXPECT_NE(r->reason.find("mesh-ci.yml:2:"), std::string::npos) << r->reason;
  EXPECT_NE(r->reason.find("comands"), std::string::npos) << r->reason;
  EXPECT_NE(t.a.notes[0].find("failed: mesh-ci.yml:2:"), std::string::npos) << t.a.notes[0];
  auto out = t.c.cli({"status", "my-app"});
  EXPECT_NE(out.output.find("comands"), std::string::npos) << out.output;
}

TEST(CiFlow, BranchFiltersTagsAndPushesWithoutAPipelineStartNothing) {
  Trio t;
  t.start();
  std::string sha = t.push(t.a, kTwoJobs, {}, "feature/x");  // not in branches
  t.net.pushed(t.a, "my-app", "refs/tags/v1", kZero, sha);
  std::string plain = t.work.commit({{"README", "no pipeline\n"}}, "c");
  t.work.git({"rm", "-q", ".mesh/mesh-ci.yml"});
  plain = t.work.commit({}, "no pipeline");
  t.work.push_to(t.repos, "release/1");
  t.net.pushed(t.a, "my-app", "refs/heads/release/1", kZero, plain);
  t.net.advance(3000);
  for (SimNode* n : {&t.a, &t.b, &t.c}) EXPECT_EQ(n->ci->shared().book.size(), 0u) << n->name;
  auto out = t.a.cli({"status"});
  EXPECT_EQ(out.output, "no CI runs yet\n");
}

TEST(CiFlow, ManualRunsAndTheirJobSelection) {
  Trio t;
  t.start();
  std::string sha = t.work.commit({{".mesh/mesh-ci.yml", kTwoJobs}}, "c1");
  t.work.push_to(t.repos);
  CliOut out = t.b.cli({"run", "my-app", "main", "--job", "build"}, true);
  ASSERT_EQ(out.code, 0) << out.output;
  std::string id = std::string(boost::json::parse(out.output).at("id").as_string());
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::passed); }));
  const RunState* r = t.a.run(id);
  EXPECT_EQ(r->spec.trigger, "manual");
  EXPECT_EQ(r->spec.sha, sha);
  ASSERT_EQ(r->jobs.size(), 1u);  // build only: it has no dependencies
  // Another request is another run.
  CliOut again = t.b.cli({"run", "my-app", "main"}, true);
  ASSERT_EQ(again.code, 0);
  EXPECT_NE(again.output, out.output);
  // Refusals leave nothing behind.
  EXPECT_EQ(t.b.cli({"run", "my-app", "main", "--job", "nope"}).code, 1);
  EXPECT_EQ(t.b.cli({"run", "my-app", "no-such-branch"}).code, 1);
  EXPECT_EQ(t.b.cli({"run", "other", "main"}).code, 1);
  EXPECT_EQ(t.b.cli({"run", "my-app"}).code, 2);
  t.net.pump();
  EXPECT_EQ(t.a.ci->shared().book.size(), 2u);
}
