// The ABI 1.3 runner registry through the host table (test-jobs is both a runner and a
// submitter): submit by secret name with values from secrets.yml, masking, the environment,
// the [runner] policy, limits, outcomes, cancel, timeout, log cap, and the clean-up on stop.
#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>

#include "plugin_host_fixture.hpp"

namespace mesh::plugin::testing {
namespace {

class PluginJobsTest : public PluginHostTest {
 protected:
  void SetUp() override {
    PluginHostTest::SetUp();
    write_secrets(
        "secrets:\n"
        "  TOKEN: \"${SECRET_SRC}\"\n"
        "  PLAIN: \"plain-secret-1\"\n"
        "  MISSING: \"${NOPE}\"\n");
    policy_.enabled = true;
    policy_.labels = {"linux"};
    policy_.env_passthrough = {"PROXY"};
    make_manager([this](HostServices& s) {
      s.secrets_file = root_ / "secrets.yml";
      s.runner = policy_;
      s.environment = [](std::string_view n) -> std::optional<std::string> {
        static const std::map<std::string, std::string, std::less<>> env = {
            {"PATH", "/test/bin"},   {"HOME", "/home/test"},
            {"LANG", "C"},           {"PROXY", "http://proxy"},
            {"OTHER", "not-passed"}, {"SECRET_SRC", "s3cr3t-token-value"}};
        auto it = env.find(n);
        if (it == env.end()) return std::nullopt;
        return it->second;
      };
    });
    manager_->apply(enable({"test-jobs"}));
    ASSERT_EQ(info("test-jobs").state, "running") << info("test-jobs").error;
  }

  void write_secrets(const std::string& text,
                     fs::perms mode = fs::perms::owner_read | fs::perms::owner_write) {
    std::ofstream(root_ / "secrets.yml") << text;
    fs::permissions(root_ / "secrets.yml", mode);
  }

  // Submits; returns the job id, or the refusal text ("refused <code>: ...").
  std::string submit(std::vector<std::string> opts, std::vector<std::string> commands,
                     std::string mode = "test", std::string timeout_ms = "0") {
    std::vector<std::string> args{"test-runner", mode, "/tmp", timeout_ms};
    args.insert(args.end(), opts.begin(), opts.end());
    args.push_back("--");
    args.insert(args.end(), commands.begin(), commands.end());
    return cli("jobs-submit", args).output;
  }

  // Waits for the job's done and returns "done <outcome> <exit> <reason>\n<log>".
  std::string result(const std::string& id) {
    std::string out;
    eventually([&] {
      out = cli("jobs-result", {id}).output;
      return out.rfind("done", 0) == 0;
    });
    return out;
  }

  boost::json::array runners() {
    return boost::json::parse(cli("jobs-runners", {}).output).as_array();
  }

  config::RunnerConfig policy_;
};

TEST_F(PluginJobsTest, RunsAJobWithItsSecretsMaskedAndOnlyTheAllowedEnvironment) {
  auto id = submit({"secret=TOKEN", "env=FOO=bar"},
                   {"echo hello", "env TOKEN", "env FOO", "env PROXY", "env OTHER", "env-names",
                    "echo token s3cr3t-token-value twice s3cr3t-token-value"});
  ASSERT_EQ(id.find("refused"), std::string::npos) << id;
  auto r = result(id);
  EXPECT_EQ(r,
            "done 0 0 \n"
            "hello\n"
            "TOKEN=***\n"
            "FOO=bar\n"
            "PROXY=http://proxy\n"
            "OTHER=(unset)\n"
            "FOO HOME LANG PATH PROXY\n"
            "token *** twice ***\n");
  EXPECT_FALSE(contains(r, "s3cr3t"));
  // The job's own variables override the daemon's.
  auto id2 = submit({"env=PATH=/job/bin"}, {"env PATH", "env HOME"});
  EXPECT_EQ(result(id2), "done 0 0 \nPATH=/job/bin\nHOME=/home/test\n");
}

TEST_F(PluginJobsTest, RunnersJsonShowsThePolicy) {
  auto list = runners();
  ASSERT_EQ(list.size(), 1u);
  auto& r = list[0].as_object();
  EXPECT_EQ(r.at("name"), "test-runner");
  EXPECT_EQ(r.at("plugin"), "test-jobs");
  EXPECT_EQ(boost::json::serialize(r.at("modes")), R"(["test"])");
  EXPECT_EQ(boost::json::serialize(r.at("labels")), R"(["fake","linux"])");
  EXPECT_EQ(r.at("slots").as_int64(), 2);
  EXPECT_EQ(r.at("free").as_int64(), 2);
  EXPECT_EQ(r.at("enabled"), true);
  EXPECT_EQ(manager_->runners_json(), cli("jobs-runners", {}).output);

  // A running job takes a slot.
  auto id = submit({}, {"wait"});
  EXPECT_TRUE(eventually([&] { return runners()[0].as_object().at("free").as_int64() == 1; }));
  // max_concurrent_jobs caps what is free node-wide.
  policy_.max_concurrent_jobs = 1;
  manager_->set_runner_config(policy_);
  EXPECT_EQ(runners()[0].as_object().at("free").as_int64(), 0);
  EXPECT_EQ(submit({}, {"echo no"}).substr(0, 11), "refused -4:");
  EXPECT_EQ(cli("jobs-cancel", {id}).output, "0");
  EXPECT_EQ(result(id).substr(0, 9), "done 2 -1");

  // Off: listed, not free, and every submit refused with the way to opt in.
  policy_.enabled = false;
  manager_->set_runner_config(policy_);
  EXPECT_EQ(runners()[0].as_object().at("enabled"), false);
  EXPECT_EQ(runners()[0].as_object().at("free").as_int64(), 0);
  auto refused = submit({}, {"echo no"});
  EXPECT_EQ(refused.substr(0, 11), "refused -5:");
  EXPECT_TRUE(contains(refused, "[runner] enabled = false")) << refused;

  // Modes: a runner with none allowed is not listed, and its mode is refused.
  policy_.enabled = true;
  policy_.modes = {"docker"};
  manager_->set_runner_config(policy_);
  EXPECT_EQ(cli("jobs-runners", {}).output, "[]");
  refused = submit({}, {"echo no"});
  EXPECT_TRUE(contains(refused, "refused -1:")) << refused;
  EXPECT_TRUE(contains(refused, "[runner] modes")) << refused;
}

TEST_F(PluginJobsTest, RefusesWhatItCannotRun) {
  auto r = submit({"secret=UNKNOWN"}, {"echo x"});
  EXPECT_TRUE(contains(r, "refused -2:")) << r;
  EXPECT_TRUE(contains(r, "secret UNKNOWN is not defined in secrets.yml on this node")) << r;
  r = submit({"secret=MISSING"}, {"echo x"});
  EXPECT_TRUE(contains(r, "${NOPE} is not set in the daemon's environment")) << r;
  r = submit({"secret=lower"}, {"echo x"});
  EXPECT_TRUE(contains(r, "refused -1:")) << r;
  r = submit({"secret=PLAIN", "env=PLAIN=x"}, {"echo x"});
  EXPECT_TRUE(contains(r, "refused -1:")) << r;
  r = submit({}, {"echo x"}, "shell");  // the runner does not run it
  EXPECT_TRUE(contains(r, "refused -1:")) << r;
  r = cli("jobs-submit", {"nobody", "test", "/tmp", "0", "--", "echo x"}).output;
  EXPECT_TRUE(contains(r, "refused -2:")) << r;
  r = cli("jobs-submit", {"test-runner", "test", "relative", "0", "--", "echo x"}).output;
  EXPECT_TRUE(contains(r, "refused -1:")) << r;
  r = submit({}, {});  // no command
  EXPECT_TRUE(contains(r, "refused -1:")) << r;

  // A secrets.yml others may read is refused for jobs that declare secrets; the rest still run.
  write_secrets("secrets:\n  PLAIN: \"plain-secret-1\"\n",
                fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  r = submit({"secret=PLAIN"}, {"echo x"});
  EXPECT_TRUE(contains(r, "chmod 600")) << r;
  EXPECT_EQ(result(submit({}, {"echo fine"})), "done 0 0 \nfine\n");
  // A malformed one says where; an edit applies to the next job without a reload.
  write_secrets("secrets:\n  PLAIN: [1, 2]\n");
  r = submit({"secret=PLAIN"}, {"echo x"});
  EXPECT_TRUE(contains(r, "secrets.yml:2:3:")) << r;
  write_secrets("secrets:\n  PLAIN: \"changed-secret\"\n");
  EXPECT_EQ(result(submit({"secret=PLAIN"}, {"env PLAIN", "echo changed-secret"})),
            "done 0 0 \nPLAIN=***\n***\n");
}

TEST_F(PluginJobsTest, OutcomesTimeoutAndLogCap) {
  EXPECT_EQ(result(submit({}, {"echo a", "fail 3", "echo b"})), "done 1 3 asked to fail\na\n");
  EXPECT_EQ(result(submit({}, {"vanish"})),
            "done 4 -1 runner 'test-runner' returned without a result\n");
  auto t = result(submit({}, {"wait"}, "test", "100"));
  EXPECT_EQ(t.substr(0, 9), "done 3 -1") << t;
  EXPECT_TRUE(contains(t, "timed out")) << t;

  policy_.job_log_max_bytes = 64 * 1024;
  manager_->set_runner_config(policy_);
  std::string line(40'000, 'x');  // two lines of 40001 bytes: 80002 - 65536 dropped
  auto big = result(submit({}, {"echo " + line, "echo " + line}));
  EXPECT_EQ(big.substr(0, 9), "done 0 0 ");
  EXPECT_TRUE(contains(big, "reached [runner] job_log_max_bytes (65536 bytes)")) << big.size();
  EXPECT_TRUE(contains(big, "[mesh: 14466 bytes of output were dropped]")) << big.size();
  EXPECT_LT(big.size(), 66'000u);
}

TEST_F(PluginJobsTest, StoppingThePluginCancelsItsJobsAndRemovesItsRunner) {
  EXPECT_EQ(cli("jobs-unregister", {}).output, "0");
  EXPECT_EQ(cli("jobs-runners", {}).output, "[]");
  EXPECT_EQ(cli("jobs-unregister", {}).output, "-2");  // MESH_E_NOT_FOUND
  manager_->apply(enable({}));                         // restart it: the runner is back
  manager_->apply(enable({"test-jobs"}));
  ASSERT_EQ(runners().size(), 1u);

  auto id = submit({}, {"wait"});
  ASSERT_EQ(id.find("refused"), std::string::npos) << id;
  EXPECT_TRUE(eventually([&] { return runners()[0].as_object().at("free").as_int64() == 1; }));
  manager_->apply(enable({}));  // returns once the waiting run() has been cancelled and returned
  EXPECT_EQ(info("test-jobs").state, "stopped");
  EXPECT_EQ(manager_->runners_json(), "[]");
}

}  // namespace
}  // namespace mesh::plugin::testing
