#include "plan.hpp"

#include <gtest/gtest.h>

#include "ids.hpp"
#include "records.hpp"
#include "test_util.hpp"

using namespace mesh::ci;
using namespace mesh::ci::test;

namespace {

Pipeline parse(const char* yaml) {
  auto r = parse_pipeline(yaml);
  EXPECT_TRUE(r.pipeline) << r.reason;
  return r.pipeline ? *r.pipeline : Pipeline{};
}

const char* kPipeline = R"(
pipeline: { name: build }
on: { push: { branches: [main, "release/**"] }, schedule: [{ cron: "0 3 * * *", job: test }], manual: true }
runner: { labels: [linux], fallback: any }
jobs:
  build: { mode: shell, commands: ["make -j2"] }
  lint:  { mode: shell, commands: ["./lint"] }
  test:  { mode: docker, image: localhost/busybox, commands: ["./run-tests"], depends_on: [build] }
)";

Commit at(std::string ref) {
  return Commit{"my-app", std::move(ref), sha('a')};
}

// A planned run must make a record every node accepts.
void publishable(const RunCreated& c) {
  auto json = encode_record(Record{run_id(c.repo, c.ref, c.sha, c.trigger_key), c});
  EXPECT_TRUE(json) << (json ? "" : json.error().message);
}

}  // namespace

TEST(CiPlan, PushRunsTheWholePipelineOnMatchingBranches) {
  Pipeline p = parse(kPipeline);
  auto run = plan_push(p, at("refs/heads/main"));
  ASSERT_TRUE(run);
  EXPECT_EQ(run->trigger, "push");
  EXPECT_EQ(run->trigger_key, "push");
  EXPECT_EQ(run->pipeline, "build");
  EXPECT_EQ(run->labels, std::vector<std::string>{"linux"});
  EXPECT_EQ(run->fallback, Fallback::any);
  ASSERT_EQ(run->jobs.size(), 3u);
  EXPECT_EQ(run->jobs[2].needs, std::vector<std::string>{"build"});
  publishable(*run);
  EXPECT_TRUE(plan_push(p, at("refs/heads/release/2.0")));
  EXPECT_FALSE(plan_push(p, at("refs/heads/feature")));
  EXPECT_FALSE(plan_push(p, at("refs/tags/v1")));  // tags are not branches
  Pipeline manual_only = parse("on: {manual: true}\njobs: {a: {commands: [x]}}");
  EXPECT_FALSE(plan_push(manual_only, at("refs/heads/main")));
  auto req = requirements_of(*run);
  EXPECT_EQ(req.modes, (std::vector<std::string>{"docker", "shell"}));
  EXPECT_EQ(req.labels, std::vector<std::string>{"linux"});
  EXPECT_EQ(req.fallback, Fallback::any);
}

TEST(CiPlan, ManualAndScheduledRunsSelectAJobWithItsDependencies) {
  Pipeline p = parse(kPipeline);
  std::string key = trigger_key_manual(node('a'), 1'700'000'000'000, "ab12");
  auto m = plan_manual(p, at("refs/heads/dev"), "test", key);
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->jobs.size(), 2u);  // test and build, not lint
  EXPECT_EQ(m->jobs[0].name, "build");
  EXPECT_EQ(m->jobs[1].name, "test");
  publishable(*m);
  auto all = plan_manual(p, at("refs/heads/dev"), "", key);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->jobs.size(), 3u);
  auto unknown = plan_manual(p, at("refs/heads/dev"), "deploy", key);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message,
            "no job 'deploy' in .mesh/mesh-ci.yml (jobs: build lint test)");
  Pipeline off = parse("on: {push: }\njobs: {a: {commands: [x]}}");
  auto refused = plan_manual(off, at("refs/heads/main"), "", key);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("on.manual: true"), std::string::npos);
  SlotKey k{"my-app", "main", p.name, "test", 1'700'000'040};
  auto s = plan_schedule(p, p.on.schedules[0], at("refs/heads/main"), slot_id(k));
  EXPECT_EQ(s.trigger, "schedule");
  EXPECT_EQ(s.trigger_key, "schedule:" + slot_id(k));
  EXPECT_EQ(s.jobs.size(), 2u);
  publishable(s);
}

TEST(CiPlan, BrokenPipelineRunHasNoJobs) {
  auto r = plan_broken(at("refs/heads/main"), "push", trigger_key_push());
  EXPECT_TRUE(r.jobs.empty());
  EXPECT_TRUE(r.pipeline.empty());
  publishable(r);
  EXPECT_TRUE(requirements_of(r).modes.empty());
}
