// Assignment under failure on a simulated mesh: a claim that never comes, a decline, a runner
// that dies or is cut off mid-job, cancels before and after the claim, busy runners, failing
// jobs, secrets a node lacks. Every run ends with a reason; none is left hanging.
#include <gtest/gtest.h>

#include <signal.h>

#include "sim_trio.hpp"

using namespace mesh::ci;
using namespace mesh::ci::sim;

namespace {

const char* kOneJob = R"(runner: { labels: [linux], fallback: any }
jobs:
  build: { commands: ["echo start", "sleep 300"] }
)";

bool job_state(SimNode& n, const std::string& id, JobPhase p) {
  const RunState* r = n.run(id);
  return r && !r->jobs.empty() && r->jobs[0].phase == p;
}

}  // namespace

TEST(CiLease, AClaimThatNeverComesIsReassigned) {
  Trio t;
  t.start();
  t.c.deaf = true;  // looks up, never hears of the assignment
  std::string sha = t.push(t.a, kTwoJobs);
  std::string id = t.run_id_of(sha);
  EXPECT_NE(t.a.notes[0].find("-> carol"), std::string::npos) << t.a.notes[0];
  ASSERT_TRUE(t.net.until(
      [&] {
        const RunState* r = t.a.run(id);
        return r && r->phase == RunPhase::passed;
      },
      40'000));
  const RunState* r = t.a.run(id);
  ASSERT_EQ(r->attempts.size(), 2u);
  EXPECT_EQ(r->attempts[1].node, t.b.id);
  EXPECT_EQ(r->attempts[1].reassign_reason, "carol did not claim the run within 10 s");
  EXPECT_TRUE(t.c.jobs.empty());
  t.c.deaf = false;
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::passed); }));
  EXPECT_TRUE(t.c.jobs.empty());  // carol never ran the old attempt when it heard of it late
}

TEST(CiLease, ADeclineIsReassignedAtOnce) {
  Trio t;
  t.start();
  t.c.runs_jobs = false;  // its last heartbeat still offers the runner
  std::string sha = t.push(t.a, kTwoJobs);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::passed); }, 5'000));
  const RunState* r = t.c.run(id);
  ASSERT_EQ(r->attempts.size(), 2u);
  EXPECT_EQ(r->attempts[0].declined,
            "this node runs no jobs ([runner] enabled = false in its mesh.toml)");
  EXPECT_NE(r->attempts[1].reassign_reason.find("carol declined"), std::string::npos);
  EXPECT_EQ(r->assignee(), t.b.id);
}

TEST(CiLease, ARunnerThatDiesMidJobLosesTheLeaseAndTheRunMovesOn) {
  Trio t;
  t.start();
  std::string sha = t.push(t.a, kOneJob);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return job_state(t.a, id, JobPhase::running); }));
  EXPECT_EQ(t.a.run(id)->assignee(), t.c.id);
  t.c.stop();  // kill -9: no goodbye, no record
  ASSERT_TRUE(t.net.until(
      [&] {
        const RunState* r = t.a.run(id);
        return r && r->attempts.size() == 2 && r->phase == RunPhase::running;
      },
      45'000));
  const RunState* r = t.a.run(id);
  EXPECT_EQ(r->assignee(), t.b.id);
  EXPECT_EQ(r->attempts[1].reassign_reason, "carol lost the lease (not heard from for 30 s)");
  // Back up, carol sees that the run has moved on and takes no part in it.
  t.c.start();
  t.net.advance(2000);
  EXPECT_EQ(t.c.run(id)->assignee(), t.b.id);
  ASSERT_TRUE(t.net.until([&] { return t.b.job("build") != nullptr; }));  // its job thread starts it
  ASSERT_EQ(t.b.cli({"cancel", id.substr(0, 10)}).code, 0);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::cancelled); }));
}

TEST(CiLease, WithNoOtherRunnerALostLeaseFailsTheRunWithTheReason) {
  Trio t;
  t.b.runners.clear();
  t.start();
  std::string sha = t.push(t.a, kOneJob);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return job_state(t.a, id, JobPhase::running); }));
  t.c.stop();
  ASSERT_TRUE(t.net.until(
      [&] {
        const RunState* r = t.a.run(id);
        return r && r->phase == RunPhase::failed;
      },
      45'000));
  const RunState* r = t.a.run(id);
  EXPECT_NE(r->reason.find("attempt 1: carol lost the lease"), std::string::npos) << r->reason;
  EXPECT_NE(r->reason.find("no other runner"), std::string::npos) << r->reason;
  EXPECT_EQ(r->jobs[0].phase, JobPhase::cancelled);
}

TEST(CiLease, APartitionedRunnerStopsItsJobOnceItSeesTheReassignment) {
  Trio t;
  t.start();
  std::string sha = t.push(t.a, kOneJob);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return job_state(t.a, id, JobPhase::running); }));
  auto old = t.c.job("build");
  ASSERT_TRUE(old);
  t.c.connected = false;
  ASSERT_TRUE(t.net.until([&] { return t.a.run(id)->attempts.size() == 2; }, 45'000));
  EXPECT_FALSE(old->finished);  // still running on the other side of the partition
  t.c.connected = true;
  ASSERT_TRUE(t.net.until([&] { return old->finished.load(); }, 5'000));
  EXPECT_TRUE(old->cancelled);
  const RunState* r = t.c.run(id);
  EXPECT_EQ(r->assignee(), t.b.id);
  EXPECT_EQ(r->phase, RunPhase::running);
  ASSERT_EQ(t.a.cli({"cancel", id.substr(0, 8)}).code, 0);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::cancelled); }));
}

TEST(CiLease, CancelKillsTheRunningJobOnItsRunner) {
  Trio t;
  t.start();
  std::string sha = t.push(t.a, kOneJob);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return job_state(t.b, id, JobPhase::running); }));
  auto job = t.c.job("build");
  ASSERT_TRUE(t.net.until([&] { return job->pgid.load() != 0; }));
  int pgid = job->pgid;
  CliOut out = t.b.cli({"cancel", id.substr(0, 12)}, true);
  ASSERT_EQ(out.code, 0) << out.output;
  EXPECT_EQ(boost::json::parse(out.output).at("cancelled").as_string(), id);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::cancelled); }, 5'000));
  // The job's process group is gone (its killed members reaped within moments).
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (::kill(-pgid, 0) == 0 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(::kill(-pgid, 0), -1);
  const RunState* r = t.a.run(id);
  EXPECT_EQ(r->reason, "cancelled by bob (mesh ci cancel)");
  EXPECT_EQ(r->jobs[0].phase, JobPhase::cancelled);
  // A second cancel, of a run that ended, is refused.
  EXPECT_EQ(t.b.cli({"cancel", id.substr(0, 12)}).code, 1);
}

TEST(CiLease, BusyRunnersMakeARunWaitAndACancelBeforeTheClaimEndsItAtTheOriginator) {
  Trio t;
  t.b.runners.clear();
  t.c.runners[0].slots = 1;
  t.c.auto_run = false;
  t.start();
  std::string first = t.push(t.a, kOneJob);
  std::string second = t.push(t.a, kOneJob, {}, "release/1");
  std::string id1 = t.run_id_of(first), id2 = t.run_id_of(second, "release/1");
  ASSERT_TRUE(t.net.until([&] { return job_state(t.a, id1, JobPhase::running); }));
  t.net.advance(6000);  // carol's heartbeat now says it is full
  std::string third = t.push(t.a, kOneJob, {{"x", "3"}}, "release/2");
  std::string id3 = t.run_id_of(third, "release/2");
  ASSERT_EQ(t.a.notes.size(), 3u);
  EXPECT_NE(t.a.notes[2].find("waiting: every eligible runner is busy"), std::string::npos)
      << t.a.notes[2];
  EXPECT_EQ(t.a.run(id3)->phase, RunPhase::queued);
  ASSERT_EQ(t.a.cli({"cancel", id3.substr(0, 8)}).code, 0);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id3, RunPhase::cancelled); }, 3'000));
  // The second one (assigned before carol's heartbeat filled up, or waiting) runs after the first.
  t.c.finish("build", JobOutcome::passed, 0, "done\n");
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id1, RunPhase::passed); }));
  ASSERT_TRUE(t.net.until([&] { return job_state(t.a, id2, JobPhase::running); }, 40'000));
  t.c.finish("build", JobOutcome::passed, 0);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id2, RunPhase::passed); }));
}

TEST(CiLease, AFailingJobSkipsWhatDependsOnItAndFailsTheRun) {
  Trio t;
  t.c.auto_run = false;
  t.start();
  std::string sha = t.push(t.a, kTwoJobs);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return job_state(t.a, id, JobPhase::running); }));
  t.c.finish("build", JobOutcome::failed, 3, "make: *** [all] Error 3\n");
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::failed); }));
  const RunState* r = t.b.run(id);
  EXPECT_EQ(r->reason, "job build failed: exit code 3");
  EXPECT_EQ(r->jobs[0].exit_code, 3);
  EXPECT_EQ(r->jobs[1].phase, JobPhase::skipped);
  EXPECT_EQ(r->jobs[1].reason, "dependency build did not pass");
  EXPECT_EQ(t.c.jobs.size(), 1u);
  EXPECT_NE(logs_of(t.a, id).find("Error 3"), std::string::npos);
}

TEST(CiLease, AJobWhoseSecretTheRunnerLacksFailsBeforeItRuns) {
  Trio t;
  t.c.missing_secrets = true;
  t.start();
  std::string pipeline = R"(runner: { labels: [linux] }
jobs:
  deploy: { commands: ["echo never"], secrets: [API_TOKEN] }
  after: { commands: ["echo never"], depends_on: [deploy] }
)";
  std::string sha = t.push(t.a, pipeline);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::failed); }));
  const RunState* r = t.a.run(id);
  EXPECT_EQ(r->jobs[0].phase, JobPhase::failed);
  EXPECT_NE(r->jobs[0].reason.find("declares secret API_TOKEN, which is not in secrets.yml"),
            std::string::npos)
      << r->jobs[0].reason;
  EXPECT_EQ(r->jobs[1].phase, JobPhase::skipped);
  EXPECT_TRUE(t.c.jobs.empty());
}

TEST(CiLease, SecretsTravelByNameAndTimeoutsAreNamed) {
  Trio t;
  t.c.auto_run = false;
  t.start();
  std::string pipeline = R"(runner: { labels: [linux] }
jobs:
  deploy: { commands: ["./deploy"], secrets: [API_TOKEN], timeout: 90s, env: { LEVEL: "2" } }
)";
  std::string sha = t.push(t.a, pipeline);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return job_state(t.a, id, JobPhase::running); }));
  auto j = t.c.job("deploy");
  EXPECT_EQ(j->job.secrets, std::vector<std::string>{"API_TOKEN"});
  EXPECT_EQ(j->job.timeout_ms, 90'000u);
  std::map<std::string, std::string> env(j->job.env.begin(), j->job.env.end());
  EXPECT_EQ(env["LEVEL"], "2");
  EXPECT_EQ(env["CI"], "true");
  EXPECT_EQ(env["MESH_RUN"], id);
  EXPECT_EQ(env.count("API_TOKEN"), 0u);  // never a variable the plugin sets
  EXPECT_EQ(env.count("PATH"), 0u);       // the host's to add
  ASSERT_FALSE(j->finished.exchange(true));
  j->done(JobOutcome::timed_out, -1, "timed out");
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::failed); }));
  EXPECT_EQ(t.a.run(id)->jobs[0].reason, "timed out after 1m30s");
}
