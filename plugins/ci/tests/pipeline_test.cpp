#include "pipeline.hpp"

#include <gtest/gtest.h>

#include "limits.hpp"

using namespace mesh::ci;

namespace {

const char* kIssueExample = R"(pipeline: { name: build }
on: { push: { branches: [main, "release/**"] }, schedule: [{ cron: "0 3 * * *", job: test }], manual: true }
runner: { labels: [linux], fallback: any }
jobs:
  build: { mode: shell, commands: ["make -j2"], timeout: 10m }
  test:  { mode: docker, image: localhost/busybox, commands: ["./run-tests"], depends_on: [build], secrets: [API_TOKEN] }
)";

// The single error of a parse that must fail, as "line:col: message".
std::string only_error(const std::string& yaml) {
  auto r = parse_pipeline(yaml);
  EXPECT_FALSE(r.pipeline) << yaml;
  if (r.errors.size() != 1) {
    ADD_FAILURE() << "expected one error, got " << r.errors.size() << ":\n" << r.reason;
    return r.reason;
  }
  const auto& e = r.errors.front();
  return std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message;
}

std::string jobs_with(const std::string& job_body) {
  return "jobs:\n  build:\n" + job_body;
}

}  // namespace

TEST(CiPipeline, TheIssueExample) {
  auto r = parse_pipeline(kIssueExample);
  ASSERT_TRUE(r.pipeline) << r.reason;
  const Pipeline& p = *r.pipeline;
  EXPECT_EQ(p.name, "build");
  EXPECT_TRUE(p.on.push);
  EXPECT_TRUE(p.on.manual);
  EXPECT_TRUE(p.on.branches.matches_ref("refs/heads/main"));
  EXPECT_TRUE(p.on.branches.matches_ref("refs/heads/release/1.2"));
  EXPECT_FALSE(p.on.branches.matches_ref("refs/heads/dev"));
  ASSERT_EQ(p.on.schedules.size(), 1u);
  EXPECT_EQ(p.on.schedules[0].job, "test");
  EXPECT_EQ(p.on.schedules[0].cron.text(), "0 3 * * *");
  EXPECT_EQ(p.labels, std::vector<std::string>{"linux"});
  EXPECT_EQ(p.fallback, Fallback::any);
  ASSERT_EQ(p.jobs.size(), 2u);
  EXPECT_EQ(p.jobs[0].name, "build");
  EXPECT_EQ(p.jobs[0].mode, "shell");
  EXPECT_EQ(p.jobs[0].commands, std::vector<std::string>{"make -j2"});
  EXPECT_EQ(p.jobs[0].timeout_ms, 600'000u);
  EXPECT_EQ(p.jobs[1].mode, "docker");
  EXPECT_EQ(p.jobs[1].image, "localhost/busybox");
  EXPECT_EQ(p.jobs[1].depends_on, std::vector<std::string>{"build"});
  EXPECT_EQ(p.jobs[1].secrets, std::vector<std::string>{"API_TOKEN"});
  EXPECT_EQ(p.jobs[1].timeout_ms, limits::kDefaultTimeoutMs);
  EXPECT_EQ(p.dag.order(), (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(p.modes(), (std::vector<std::string>{"docker", "shell"}));
  EXPECT_EQ(p.modes({0}), std::vector<std::string>{"shell"});
  ASSERT_NE(p.job("test"), nullptr);
  EXPECT_EQ(p.job("nope"), nullptr);
}

TEST(CiPipeline, BlockStyleWithEnvAndMultilineCommands) {
  auto r = parse_pipeline(R"(
pipeline:
  name: "full example"
on:
  push:
    branches:
      - "**"
      - "!wip/**"
  schedule:
    - cron: "@daily"
    - cron: "*/30 * * * 1-5"
      job: lint
      branch: develop
runner:
  labels: [linux, x86_64]
jobs:
  lint:
    mode: shell
    commands:
      - |
        set -e
        ./lint.sh --all
    env:
      LEVEL: 2
      EMPTY: ""
      PATH: /opt/bin:/usr/bin
  deploy:
    mode: k8s-pod
    commands: [deploy]
    depends_on: [lint]
    timeout: 1h30m
)");
  ASSERT_TRUE(r.pipeline) << r.reason;
  const Pipeline& p = *r.pipeline;
  EXPECT_EQ(p.name, "full example");
  EXPECT_FALSE(p.on.manual);  // `on` given without manual: no manual runs
  EXPECT_TRUE(p.on.branches.matches_ref("refs/heads/x/y"));
  EXPECT_FALSE(p.on.branches.matches_ref("refs/heads/wip/x"));
  ASSERT_EQ(p.on.schedules.size(), 2u);
  EXPECT_EQ(p.on.schedules[0].job, "");
  EXPECT_EQ(p.on.schedules[1].branch, "develop");
  EXPECT_EQ(p.fallback, Fallback::none);
  EXPECT_EQ(p.jobs[0].commands[0], "set -e\n./lint.sh --all\n");
  ASSERT_EQ(p.jobs[0].env.size(), 3u);
  EXPECT_EQ(p.jobs[0].env[0], (std::pair<std::string, std::string>{"LEVEL", "2"}));
  EXPECT_EQ(p.jobs[0].env[1].second, "");
  EXPECT_EQ(p.jobs[1].mode, "k8s-pod");  // the runner decides what a mode means
  EXPECT_EQ(p.jobs[1].timeout_ms, 5'400'000u);
}

TEST(CiPipeline, Defaults) {
  auto r = parse_pipeline("jobs: { build: { commands: [make] } }");
  ASSERT_TRUE(r.pipeline) << r.reason;
  EXPECT_EQ(r.pipeline->name, "ci");
  EXPECT_TRUE(r.pipeline->on.push);  // no `on`: every branch, and manual runs
  EXPECT_TRUE(r.pipeline->on.manual);
  EXPECT_TRUE(r.pipeline->on.branches.all_branches());
  EXPECT_EQ(r.pipeline->jobs[0].mode, "shell");
  EXPECT_EQ(r.pipeline->fallback, Fallback::none);
  auto push_only = parse_pipeline("on: { push: }\njobs: { b: { commands: [x] } }");
  ASSERT_TRUE(push_only.pipeline) << push_only.reason;
  EXPECT_TRUE(push_only.pipeline->on.push);
  EXPECT_TRUE(push_only.pipeline->on.branches.all_branches());
  EXPECT_FALSE(push_only.pipeline->on.manual);
  auto manual_only = parse_pipeline("on: { manual: true }\njobs: { b: { commands: [x] } }");
  ASSERT_TRUE(manual_only.pipeline);
  EXPECT_FALSE(manual_only.pipeline->on.push);
}

TEST(CiPipeline, UnknownKeysWithLineAndColumn) {
  EXPECT_EQ(only_error("job:\n  build: {commands: [x]}\njobs: {b: {commands: [x]}}"),
            "1:1: top level: unknown key 'job' (did you mean 'jobs'?)");
  EXPECT_EQ(only_error("jobs:\n  build:\n    comands: [x]\n    commands: [y]\n"),
            "3:5: jobs.build: unknown key 'comands' (did you mean 'commands'?)");
  EXPECT_EQ(only_error("on: {pull_request: {}}\njobs: {b: {commands: [x]}}"),
            "1:6: on: unknown key 'pull_request' (known: push, schedule, manual)");
  EXPECT_EQ(only_error("runner: {label: [x]}\njobs: {b: {commands: [x]}}"),
            "1:10: runner: unknown key 'label' (did you mean 'labels'?)");
}

TEST(CiPipeline, WrongTypes) {
  EXPECT_EQ(only_error(jobs_with("    commands: make\n")),
            "3:15: jobs.build.commands: expected a list, got a string");
  EXPECT_EQ(only_error(jobs_with("    commands: [[make]]\n")),
            "3:16: jobs.build.commands: expected a string, got a list");
  EXPECT_EQ(only_error(jobs_with("    commands: [x]\n    env: [A]\n")),
            "4:10: jobs.build.env: expected a map, got a list");
  EXPECT_EQ(only_error(jobs_with("    commands: [x]\n    env: {A: {b: c}}\n")),
            "4:14: jobs.build.env.A: expected a string, got a map");
  EXPECT_EQ(only_error(jobs_with("    commands: [x]\n    timeout:\n")),
            "4:5: jobs.build.timeout: expected a string, got nothing");
  EXPECT_EQ(only_error("on: {manual: yes}\njobs: {b: {commands: [x]}}"),
            "1:14: on.manual: expected true or false");
  EXPECT_EQ(only_error("jobs: [a, b]"), "1:7: jobs: expected a map, got a list");
  EXPECT_EQ(only_error("- a\n- b"), "1:1: the file: expected a map, got a list");
  EXPECT_EQ(only_error("runner: {fallback: maybe}\njobs: {b: {commands: [x]}}"),
            "1:20: runner.fallback: expected 'any' or 'none'");
  EXPECT_EQ(only_error("jobs: {? [a] : b}"), "1:10: jobs: keys must be strings");
}

TEST(CiPipeline, GraphErrors) {
  EXPECT_EQ(
      only_error(
          "jobs:\n  a: {commands: [x], depends_on: [b]}\n  b: {commands: [x], depends_on: [a]}\n"),
      "2:34: jobs: dependency cycle: a -> b -> a (each depends on the next)");
  EXPECT_EQ(only_error("jobs:\n  a: {commands: [x], depends_on: [c]}\n  b: {commands: [x]}\n"),
            "2:35: jobs.a.depends_on: unknown job 'c' (jobs: a b)");
  EXPECT_EQ(only_error("jobs:\n  a: {commands: [x], depends_on: [a]}\n"),
            "2:35: jobs.a.depends_on: a job cannot depend on itself");
  EXPECT_EQ(only_error("jobs:\n  a: {commands: [x]}\n  b: {commands: [x], depends_on: [a, a]}\n"),
            "3:38: jobs.b.depends_on: 'a' is listed twice");
  auto r = parse_pipeline(
      "jobs:\n  a: {commands: [x], depends_on: [c]}\n  b: {commands: [x], depends_on: [a]}\n"
      "  c: {commands: [x], depends_on: [b]}\n  d: {commands: [x], depends_on: [d2]}\n");
  ASSERT_FALSE(r.pipeline);
  ASSERT_EQ(r.errors.size(), 1u);  // an unknown dependency is reported first; cycles after a fix
  EXPECT_NE(r.reason.find("unknown job 'd2'"), std::string::npos) << r.reason;
  auto cyc = parse_pipeline(
      "jobs:\n  a: {commands: [x], depends_on: [c]}\n  b: {commands: [x], depends_on: [a]}\n"
      "  c: {commands: [x], depends_on: [b]}\n");
  EXPECT_NE(cyc.reason.find("dependency cycle: a -> c -> b -> a"), std::string::npos) << cyc.reason;
}

TEST(CiPipeline, ScheduleErrors) {
  EXPECT_EQ(
      only_error("on: {schedule: [{cron: '0 0 30 2 *'}]}\njobs: {b: {commands: [x]}}"),
      "1:24: on.schedule.cron: bad cron '0 0 30 2 *': never fires (no such day in those months)");
  EXPECT_EQ(only_error("on: {schedule: [{cron: '* * *', job: b}]}\njobs: {b: {commands: [x]}}"),
            "1:24: on.schedule.cron: bad cron '* * *': expected 5 fields (minute hour day-of-month "
            "month day-of-week), got 3");
  EXPECT_EQ(only_error("on: {schedule: [{cron: '@daily', job: nope}]}\njobs: {b: {commands: [x]}}"),
            "1:39: on.schedule.job: unknown job 'nope' (jobs: b)");
  EXPECT_EQ(only_error("on: {schedule: [{job: b}]}\njobs: {b: {commands: [x]}}"),
            "1:17: on.schedule entry: 'cron' is missing");
  EXPECT_EQ(
      only_error("on: {schedule: [{cron: '@daily', branch: 'a..b'}]}\njobs: {b: {commands: [x]}}"),
      "1:42: on.schedule.branch: 'a..b' is not a branch name");
}

TEST(CiPipeline, JobRules) {
  EXPECT_EQ(only_error("jobs:\n  b: {mode: docker, commands: [x]}\n"),
            "2:3: jobs.b: mode docker needs an 'image'");
  EXPECT_EQ(only_error("jobs:\n  b: {image: busybox, commands: [x]}\n"),
            "2:14: jobs.b.image: shell jobs run on the host; use a container mode (mode: docker)");
  EXPECT_EQ(only_error("jobs:\n  b: {mode: docker, image: --privileged, commands: [x]}\n"),
            "2:28: jobs.b.image: '--privileged' is not an image reference "
            "([A-Za-z0-9][A-Za-z0-9._/:@-]*, 1-255)");
  EXPECT_EQ(only_error("jobs:\n  b: {mode: Shell, commands: [x]}\n"),
            "2:13: jobs.b.mode: 'Shell' is not a mode ([a-z][a-z0-9-]*, 1-32)");
  EXPECT_EQ(only_error("jobs:\n  b: {}\n"), "2:3: jobs.b: 'commands' is missing");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: []}\n"), "2:17: jobs.b.commands: the list is empty");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: ['  ']}\n"), "2:18: jobs.b.commands: empty command");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: [\"a\\0b\"]}\n"),
            "2:18: jobs.b.commands: a command contains a NUL byte");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: [x], timeout: 7h}\n"),
            "2:31: jobs.b.timeout: bad duration '7h': more than the maximum of 6h (write e.g. 90s, "
            "10m, 1h30m)");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: [x], timeout: 600}\n"),
            "2:31: jobs.b.timeout: bad duration '600': missing unit (h, m or s) (write e.g. 90s, "
            "10m, 1h30m)");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: [x], secrets: [api_token]}\n"),
            "2:32: jobs.b.secrets: 'api_token' is not a secret name ([A-Z_][A-Z0-9_]*, 1-64)");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: [x], secrets: [A, A]}\n"),
            "2:31: jobs.b.secrets: a secret is listed twice");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: [x], secrets: [TOKEN], env: {TOKEN: x}}\n"),
            "2:46: jobs.b.env: 'TOKEN' is also a secret of this job");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: [x], env: {MESH_RUN: x}}\n"),
            "2:28: jobs.b.env: 'MESH_RUN' is set by mesh (CI and MESH_* are reserved)");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: [x], env: {CI: x}}\n"),
            "2:28: jobs.b.env: 'CI' is set by mesh (CI and MESH_* are reserved)");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: [x], env: {1X: x}}\n"),
            "2:28: jobs.b.env: '1X' is not a variable name ([A-Za-z_][A-Za-z0-9_]*, 1-64)");
  EXPECT_EQ(only_error("jobs:\n  'a b': {commands: [x]}\n"),
            "2:3: jobs: 'a b' is not a job name ([A-Za-z0-9][A-Za-z0-9_-]*, 1-64)");
  EXPECT_EQ(only_error("jobs: {}\n"), "1:7: jobs: a pipeline needs at least one job");
  EXPECT_EQ(only_error("pipeline: {name: x}\n"),
            "1:1: no 'jobs': a pipeline needs at least one job");
  EXPECT_EQ(only_error("pipeline: {}\njobs: {b: {commands: [x]}}"),
            "1:11: pipeline: 'name' is missing");
  EXPECT_EQ(only_error("on: {push: {branches: ['!main']}}\njobs: {b: {commands: [x]}}"),
            "1:23: on.push.branches: branch patterns are all exclusions ('!…'): add one that "
            "includes, e.g. '**'");
  EXPECT_EQ(only_error("runner: {labels: [a, a]}\njobs: {b: {commands: [x]}}"),
            "1:18: runner.labels: a label is listed twice");
}

TEST(CiPipeline, DocumentLevelErrors) {
  EXPECT_EQ(only_error(""), "0:0: the file is empty (it needs at least 'jobs')");
  EXPECT_EQ(only_error("jobs: {b: {commands: [x]}}\n---\njobs: {}\n"),
            "2:1: more than one YAML document ('---'): write one");
  // yaml-cpp 0.7's LoadAll never returns on a stray ',' (it makes empty documents forever).
  EXPECT_EQ(only_error("\n,\n"), "2:1: YAML syntax: unexpected text (a stray ',' or flow token?)");
  EXPECT_FALSE(parse_pipeline("jobs: {b: {commands: [x]}}\n,\n").pipeline);
  auto syntax = parse_pipeline("jobs: {b: {commands: [x]}\n");
  ASSERT_FALSE(syntax.pipeline);
  ASSERT_EQ(syntax.errors.size(), 1u);
  EXPECT_NE(syntax.errors[0].message.find("YAML syntax"), std::string::npos);
  EXPECT_EQ(only_error("jobs:\n  b: {commands: [x]}\n  b: {commands: [y]}\n"),
            "3:3: jobs: duplicate key 'b' (first on line 2)");
  auto merge = parse_pipeline("jobs:\n  b: &x {commands: [x]}\n  c:\n    <<: *x\n");
  EXPECT_NE(merge.reason.find("mesh-ci.yml:4:5: jobs.c: merge keys ('<<') are not supported"),
            std::string::npos)
      << merge.reason;
  EXPECT_EQ(only_error("jobs: {b: {commands: [x]}}\nx: *undefined\n"),
            "2:4: YAML syntax: the referenced anchor is not defined");
}

TEST(CiPipeline, CollectsEveryErrorInOrder) {
  auto r = parse_pipeline(
      "pipelin: {name: x}\n"
      "jobs:\n"
      "  a: {commands: make, mode: X}\n"
      "  b: {commands: [x], timeout: 5}\n");
  ASSERT_FALSE(r.pipeline);
  ASSERT_EQ(r.errors.size(), 4u) << r.reason;
  EXPECT_EQ(r.errors[0].line, 1);
  EXPECT_EQ(r.errors[1].line, 3);
  EXPECT_EQ(r.errors[2].line, 3);
  EXPECT_EQ(r.errors[3].line, 4);
  EXPECT_EQ(r.reason.rfind("mesh-ci.yml:1:1: top level: unknown key 'pipelin' (did you mean "
                           "'pipeline'?)\n",
                           0),
            0u)
      << r.reason;
  EXPECT_NE(r.reason.find("\nmesh-ci.yml:3:"), std::string::npos);
}

TEST(CiPipeline, Limits) {
  std::string big = "jobs: {b: {commands: [x]}}\n# " + std::string(limits::kPipelineBytes, 'x');
  EXPECT_EQ(only_error(big).substr(0, 22), "0:0: larger than 256 K");
  std::string many = "jobs:\n";
  for (int i = 0; i < 65; ++i) many += "  j" + std::to_string(i) + ": {commands: [x]}\n";
  EXPECT_EQ(only_error(many), "2:3: jobs: more than 64 entries");
  std::string cmds = "jobs:\n  b:\n    commands:\n";
  for (int i = 0; i < 101; ++i) cmds += "      - x\n";
  EXPECT_EQ(only_error(cmds), "4:7: jobs.b.commands: more than 100 items");
  EXPECT_EQ(only_error("jobs:\n  b: {commands: ['" + std::string(8193, 'x') + "']}\n"),
            "2:18: jobs.b.commands: a command is longer than 8 KiB");
  EXPECT_EQ(only_error("jobs:\n  " + std::string(65, 'j') + ": {commands: [x]}\n").substr(0, 13),
            "2:3: jobs: 'j");
  // Deeply nested flow collections are refused, by yaml-cpp or by the depth limit, quickly.
  std::string deep =
      "jobs: {b: {commands: " + std::string(5000, '[') + std::string(5000, ']') + "}}";
  auto r = parse_pipeline(deep);
  EXPECT_FALSE(r.pipeline);
  EXPECT_FALSE(r.reason.empty());
  // Many errors: at most limits::kErrors are listed, and the reason says more were dropped.
  std::string bad = "jobs:\n";
  for (int i = 0; i < 40; ++i) bad += "  j" + std::to_string(i) + ": {command: [x]}\n";
  auto many_errors = parse_pipeline(bad);
  EXPECT_EQ(many_errors.errors.size(), limits::kErrors);
  EXPECT_NE(many_errors.reason.find("more errors not shown"), std::string::npos);
  EXPECT_LE(many_errors.reason.size(), limits::kReasonBytes);
}

TEST(CiPipeline, AliasesCannotMultiplyWork) {
  // The classic "billion laughs": every level refers to the previous one ten times.
  std::string yaml = "jobs:\n  a: {commands: &l0 [x, x, x, x, x, x, x, x, x, x]}\n";
  for (int i = 1; i < 9; ++i) {
    yaml += "  j" + std::to_string(i) + ": {commands: &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) yaml += std::string(k ? ", " : "") + "*l" + std::to_string(i - 1);
    yaml += "]}\n";
  }
  auto r = parse_pipeline(yaml);
  EXPECT_FALSE(r.pipeline);  // lists where commands belong: refused without expanding them
  EXPECT_NE(r.reason.find("expected a string, got a list"), std::string::npos);
  // An alias to its own ancestor cannot loop either.
  auto self = parse_pipeline("jobs: &j {b: {commands: [x]}, c: *j}");
  EXPECT_FALSE(self.pipeline);
  EXPECT_FALSE(self.reason.empty());
  // Aliases that are valid where they land count once per use.
  std::string reuse = "jobs:\n  j0: {commands: &c [a, b, c], env: &e {A: '1', B: '2'}}\n";
  for (int i = 1; i < 64; ++i) reuse += "  j" + std::to_string(i) + ": {commands: *c, env: *e}\n";
  auto ok = parse_pipeline(reuse);
  ASSERT_TRUE(ok.pipeline) << ok.reason;
  EXPECT_EQ(ok.pipeline->jobs[63].commands.size(), 3u);
}

TEST(CiYamlWalker, CountsEveryVisitThroughAliases) {
  std::string yaml = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    yaml += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) yaml += std::string(k ? ", " : "") + "*l" + std::to_string(i - 1);
    yaml += "]\n";
  }
  Diagnostics diags(limits::kErrors);
  auto root = load_single_document(yaml, diags);
  ASSERT_TRUE(root);
  YamlWalker w(diags, limits::kYamlNodes, 100);
  std::size_t seen = 0;
  std::function<void(const YAML::Node&, std::size_t)> walk = [&](const YAML::Node& n,
                                                                 std::size_t d) {
    if (!w.visit(n, d)) return;
    ++seen;
    if (n.IsSequence() || n.IsMap()) {
      for (auto it = n.begin(); it != n.end(); ++it) walk(n.IsMap() ? it->second : *it, d + 1);
    }
  };
  walk(*root, 0);
  EXPECT_TRUE(w.exhausted());
  EXPECT_EQ(seen, limits::kYamlNodes);
  ASSERT_EQ(diags.sorted().size(), 1u);
  EXPECT_NE(diags.sorted()[0].message.find("too many YAML nodes"), std::string::npos);
}
