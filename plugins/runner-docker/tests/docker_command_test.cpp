// The docker CLI argv and env file of runner-docker (the real container runs are in the CI
// integration tests, against podman's Docker API).
#include "docker_command.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace mesh::runner {
namespace {

DockerJob job() {
  DockerJob j;
  j.docker = "/usr/bin/docker";
  j.container = "mesh-1a2b3c4d-7";
  j.image = "localhost/busybox";
  j.workdir = "/var/lib/mesh/ci/wt/run1";
  j.job_dir = "/var/lib/mesh/runner/jobs/7";
  j.pull = "missing";
  j.user = "1000:1000";
  return j;
}

TEST(DockerCommand, RunMountsTheWorktreeAndTheScriptAndNeverPutsSecretsOnTheCommandLine) {
  auto a = docker_run_argv(job());
  auto at = [&](const std::string& s) { return std::find(a.begin(), a.end(), s) - a.begin(); };
  EXPECT_EQ(a[0], "/usr/bin/docker");
  EXPECT_EQ(a[1], "run");
  EXPECT_LT(at("--rm"), static_cast<long>(a.size()));
  EXPECT_EQ(a[at("--env-file") + 1], "/var/lib/mesh/runner/jobs/7/env");
  EXPECT_EQ(a[at("--workdir") + 1], "/workspace");
  EXPECT_EQ(a[at("--user") + 1], "1000:1000");
  // The image comes right after "--", so an image named like an option stays an image.
  EXPECT_EQ(a[at("--") + 1], "localhost/busybox");
  EXPECT_EQ(a.back(), "/mesh-job/job.sh");
  for (const auto& s : a) EXPECT_EQ(s.find("SECRET"), std::string::npos) << s;
}

TEST(DockerCommand, EnvFileCarriesVariablesAndSecretsButNotThePathOrHome) {
  std::string why;
  auto f = env_file({{"PATH", "/usr/bin"}, {"HOME", "/root"}, {"CI", "true"}},
                    {{"API_TOKEN", "s3cr3t"}}, &why);
  ASSERT_TRUE(f) << why;
  EXPECT_EQ(*f, "CI=true\nAPI_TOKEN=s3cr3t\n");
  auto bad = env_file({}, {{"KEY", "line1\nline2"}}, &why);
  EXPECT_FALSE(bad);
  EXPECT_NE(why.find("KEY"), std::string::npos);
  EXPECT_EQ(why.find("line1"), std::string::npos);  // never the value
}

TEST(DockerCommand, KillAndRemoveTakeTheNameAfterDashDash) {
  EXPECT_EQ(docker_kill_argv("/d", "n"), (std::vector<std::string>{"/d", "kill", "--", "n"}));
  EXPECT_EQ(docker_rm_argv("/d", "n"), (std::vector<std::string>{"/d", "rm", "-f", "--", "n"}));
}

TEST(DockerCommand, MountablePathsAndProgramLookup) {
  EXPECT_TRUE(mountable("/a/b"));
  EXPECT_FALSE(mountable("a/b"));
  EXPECT_FALSE(mountable("/a,b"));
  EXPECT_FALSE(mountable("/a:b"));
  EXPECT_TRUE(find_program("sh", "/nonexistent:/bin:/usr/bin"));
  EXPECT_FALSE(find_program("no-such-program-mesh", "/bin:/usr/bin"));
  EXPECT_FALSE(find_program("relative/sh", "/bin"));
  EXPECT_TRUE(find_program("/bin/sh", ""));
}

}  // namespace
}  // namespace mesh::runner
