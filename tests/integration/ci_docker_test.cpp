// The docker runner for real: a pipeline pushed on alice runs its shell job and then its docker
// job on carol, in a container made by podman's Docker-compatible API (the real docker CLI,
// DOCKER_HOST at podman's socket, a locally imported busybox image), with the worktree mounted,
// the environment from an env file, and the declared secret masked on every node.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "ci_util.hpp"
#include "podman.hpp"

using namespace mesh::test;
using namespace mesh::test::ci;

TEST(CiDocker, ADockerJobRunsInPodmanOnTheRunnerAndItsLogIsEverywhere) {
  TempDir pm("ci-podman");
  Podman podman(pm.path());
  std::string why;
  ASSERT_TRUE(podman.start(&why)) << why;
  ::setenv("DOCKER_HOST", podman.docker_host().c_str(), 1);  // the daemons inherit it
  CiTrio t("ci-docker", {"runner-docker"});
  {
    std::ofstream f(t.c.root() / "secrets.yml");
    f << "secrets:\n  API_TOKEN: \"container-s3cret-77\"\n";
  }
  ::chmod((t.c.root() / "secrets.yml").c_str(), 0600);
  t.start_and_pair();
  ASSERT_TRUE(t.runners_seen(t.a, 3));  // bob's shell, carol's shell and docker
  auto work = t.make_repo("app", 1);
  std::string pipeline = R"yml(runner: { labels: [linux] }
jobs:
  build: { mode: shell, commands: ["echo made on the host > artefact"] }
  test:
    mode: docker
    image: )yml" + Podman::image() +
                         R"yml(
    depends_on: [build]
    secrets: [API_TOKEN]
    env: { LEVEL: "2" }
    commands:
      - echo "cwd:$(pwd)"
      - cat artefact
      - echo "level:$LEVEL token:$API_TOKEN"
      - test -x /bin/busybox && echo "in busybox"
)yml";
  Proc push = t.push(t.a, work, pipeline);
  std::string id = run_of_push(push);
  ASSERT_FALSE(id.empty()) << push.err;
  ASSERT_TRUE(eventually(
      [&] {
        auto s = state_on(t.a, "app", id);
        return s == "passed" || s == "failed";
      },
      120s));
  std::string log = logs_on(t.a, "app", id);
  ASSERT_EQ(state_on(t.a, "app", id), "passed") << log;
  EXPECT_NE(log.find("cwd:/workspace"), std::string::npos) << log;
  EXPECT_NE(log.find("made on the host"), std::string::npos) << log;
  EXPECT_NE(log.find("level:2 token:***"), std::string::npos) << log;
  EXPECT_NE(log.find("in busybox"), std::string::npos) << log;
  for (Node* n : t.all()) {
    ASSERT_TRUE(eventually([&] { return logs_on(*n, "app", id) == log; }, 30s)) << n->name();
    EXPECT_EQ(logs_on(*n, "app", id).find("container-s3cret-77"), std::string::npos);
  }
  auto run = run_on(t.b, "app", id);
  EXPECT_EQ(run.at("runner").at("name").as_string(), "carol");
  for (Node* n : t.all()) n->stop();
  ::unsetenv("DOCKER_HOST");
}
