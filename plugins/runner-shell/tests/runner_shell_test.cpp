// The runner-shell plugin itself (the built .so, loaded with dlopen) on the SDK's FakeHost:
// settings, a passing and a failing job, the job's environment, and a job stopped by its host.
#include <dlfcn.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "mesh/fake_host.hpp"

namespace {

using mesh::sdk::testing::FakeHost;
using mesh::sdk::testing::FakeJob;
using namespace std::chrono_literals;

mesh_plugin_entry_fn entry() {
  static void* lib = ::dlopen(RUNNER_SHELL_SO, RTLD_NOW | RTLD_LOCAL);
  if (!lib) return nullptr;
  return reinterpret_cast<mesh_plugin_entry_fn>(::dlsym(lib, MESH_PLUGIN_ENTRY_SYMBOL));
}

FakeJob job(std::vector<std::string> commands) {
  FakeJob j;
  j.commands = std::move(commands);
  j.workdir = std::filesystem::temp_directory_path().string();
  j.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/tmp"}, {"CI", "true"}};
  return j;
}

TEST(RunnerShell, RunsCommandsAndReportsTheOutcome) {
  ASSERT_NE(entry(), nullptr) << ::dlerror();
  FakeHost host;
  host.set_config(R"({"name":"sh1","slots":1,"labels":["linux"]})");
  ASSERT_EQ(host.load(entry()), MESH_OK) << host.error();
  EXPECT_EQ(host.runners(), std::vector<std::string>{"sh1"});

  auto ok = host.run_job("sh1", job({"echo hello", "test \"$CI\" = true"}));
  ASSERT_TRUE(ok.done);
  EXPECT_EQ(ok.outcome, MESH_JOB_PASSED) << ok.log << ok.reason;
  EXPECT_EQ(ok.log, "$ echo hello\nhello\n$ test \"$CI\" = true\n");

  auto bad = host.run_job("sh1", job({"exit 3", "echo not reached"}));
  EXPECT_EQ(bad.outcome, MESH_JOB_FAILED);
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_EQ(bad.reason, "exit code 3");
  EXPECT_EQ(bad.log.find("not reached"), std::string::npos);
}

TEST(RunnerShell, TheJobSeesItsEnvironmentAndSecretsOnly) {
  FakeHost host;
  ASSERT_EQ(host.load(entry()), MESH_OK) << host.error();
  ::setenv("MESH_DAEMON_SECRET", "should-not-leak", 1);
  auto j = job({"env | sort"});
  j.secrets = {{"API_TOKEN", "s3cr3t"}};
  auto r = host.run_job("shell", j);
  ::unsetenv("MESH_DAEMON_SECRET");
  EXPECT_EQ(r.outcome, MESH_JOB_PASSED);
  EXPECT_NE(r.log.find("API_TOKEN=s3cr3t"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("CI=true"), std::string::npos) << r.log;
  EXPECT_EQ(r.log.find("MESH_DAEMON_SECRET"), std::string::npos) << r.log;
}

TEST(RunnerShell, AJobStoppedByItsHostEndsCancelled) {
  FakeHost host;
  ASSERT_EQ(host.load(entry()), MESH_OK) << host.error();
  // The fake host cancels a job that outlives its wait, as the daemon does at a timeout.
  auto r = host.run_job("shell", job({"echo started", "sleep 300"}), 500ms);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.outcome, MESH_JOB_CANCELLED) << r.log;
  EXPECT_NE(r.log.find("started"), std::string::npos);
}

TEST(RunnerShell, BadSettingsFailTheStartNamingTheKey) {
  FakeHost host;
  host.set_config(R"({"slots":0})");
  EXPECT_NE(host.load(entry()), MESH_OK);
  EXPECT_NE(host.error().find("slots"), std::string::npos) << host.error();
}

}  // namespace
