// The SDK's FakeHost (mesh/fake_host.hpp) driving a real plugin class through the C ABI, as a
// plugin author's unit test would: routes (prefix and pattern), CLI verbs with chunks, timers
// on the fake clock, events, heartbeat/status, runners and job submission.
#include "mesh/fake_host.hpp"

#include <gtest/gtest.h>

#include "mesh/plugin.hpp"
#include "mesh/plugin_jobs.hpp"

namespace {

using mesh::sdk::testing::FakeEvent;
using mesh::sdk::testing::FakeHost;
using mesh::sdk::testing::FakeJob;

class Sample : public mesh::sdk::Plugin {
 public:
  void start() override {
    route("GET", "/sample", [](const mesh::sdk::HttpRequest& r) {
      r.respond(mesh::sdk::HttpResponse::text(200, "path " + std::string(r.path()) + "\n"));
    });
    route(
        "GET", "/repos/{repo}/ci/{run}",
        [](const mesh::sdk::HttpRequest& r) {
          std::string got;
          for (size_t i = 0; i < r.raw()->param_count; ++i)
            got += std::string(mesh::sdk::view(r.raw()->params[i].name)) + "=" +
                   std::string(mesh::sdk::view(r.raw()->params[i].value)) + ";";
          r.respond(mesh::sdk::HttpResponse::text(200, got));
        },
        0, MESH_ROUTE_LOCAL);
    verb("sample", "a sample verb", [](const mesh::sdk::CliRequest& c) {
      c.chunk("working\n");
      c.reply(c.json() ? 0 : 1, c.json() ? "{\"ok\":true}" : "needs --json\n");
    });
    timer(std::chrono::seconds(5), true, [this] { ++ticks; });
    verb("ticks", "timer runs and events seen", [this](const mesh::sdk::CliRequest& c) {
      std::string out = std::to_string(ticks);
      for (const auto& s : seen) out += " " + s;
      c.reply(0, out);
    });
    subscribe("all-ci", "ci", [this](const mesh::sdk::Event& e) {
      seen.push_back(std::string(e.topic()) + ":" + std::string(e.payload()));
      return e.payload() != "retry-me";
    });
    heartbeat_set(R"({"runners":1})");
    runner_.add(
        host(), {"echo", {"shell"}, {"linux"}, 1},
        [](const mesh::sdk::Job& job) {
          for (const auto& c : job.commands()) job.log(c + "\n");
          for (const auto& [n, v] : job.secrets()) job.log(n + "\n");
          job.done(mesh::sdk::JobOutcome::passed, 0);
        },
        [](uint64_t) {});
  }
  int ticks = 0;
  std::vector<std::string> seen;
  mesh::sdk::Runner runner_;
};

}  // namespace

MESH_PLUGIN(Sample, "sample", "1.0.0");

namespace {

TEST(FakeHost, RoutesVerbsTimersEventsAndJobs) {
  FakeHost host;
  ASSERT_EQ(host.load(&mesh_plugin_entry), MESH_OK) << host.error();

  auto a = host.http("GET", "/sample/sub?x=1");
  ASSERT_TRUE(a.answered);
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(a.body, "path /sample/sub\n");
  auto p = host.http("GET", "/repos/my-app/ci/3f2a");
  EXPECT_EQ(p.body, "repo=my-app;run=3f2a;");
  EXPECT_EQ(host.http("GET", "/repos/my-app/ci").status, 404u);  // patterns match exactly
  EXPECT_EQ(host.http("GET", "/nothing").status, 404u);

  auto c = host.cli("sample", {}, true);
  ASSERT_TRUE(c.answered);
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_EQ(c.output, "{\"ok\":true}");
  EXPECT_EQ(c.chunks, std::vector<std::string>{"working\n"});
  EXPECT_EQ(host.cli("sample").exit_code, 1);
  EXPECT_EQ(host.cli("nosuch").exit_code, 2);

  EXPECT_EQ(host.heartbeat(), R"({"runners":1})");
  EXPECT_EQ(host.timer_count(), 1u);
  EXPECT_EQ(host.cli("ticks").output, "0");
  host.advance(std::chrono::seconds(12));  // two ticks at 5 s and 10 s
  EXPECT_EQ(host.now_ms(), 12'000u);
  EXPECT_EQ(host.cli("ticks").output, "2");

  host.inject(FakeEvent{"mesh:other", "ci", "one", 1, 1, 0});
  host.inject(FakeEvent{"mesh:other", "ci.live", "two", 0, 2, 0});
  host.inject(FakeEvent{"mesh:other", "issues", "not-mine", 2, 3, 0});
  host.inject(FakeEvent{"mesh:other", "ci", "retry-me", 3, 4, 0});
  EXPECT_EQ(host.deliver(), 3u);  // "retry-me" stays queued
  EXPECT_EQ(host.deliver(), 0u);
  EXPECT_EQ(host.cli("ticks").output, "2 ci:one ci.live:two ci:retry-me ci:retry-me");

  FakeJob job;
  job.commands = {"make", "make test"};
  job.secrets = {{"API_TOKEN", "x"}};
  auto r = host.run_job("echo", job);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.outcome, MESH_JOB_PASSED);
  EXPECT_EQ(r.log, "make\nmake test\nAPI_TOKEN\n");
  EXPECT_EQ(host.runners(), std::vector<std::string>{"echo"});

  host.stop();
  EXPECT_TRUE(host.runners().empty());
  EXPECT_TRUE(host.verbs().empty());
}

// An orchestrator plugin submitting to a runner of the same host: secrets are resolved by the
// host from what secrets.yml would hold, and an undefined one is refused.
class Orchestrator : public mesh::sdk::Plugin {
 public:
  void start() override {
    runner_.add(
        host(), {"echo", {"shell"}, {}, 1},
        [](const mesh::sdk::Job& job) {
          for (const auto& [n, v] : job.secrets()) job.log(n + "=" + v + "\n");
          job.done(mesh::sdk::JobOutcome::failed, 3, "exit code 3");
        },
        [](uint64_t) {});
    verb("go", "submit", [this](const mesh::sdk::CliRequest& c) {
      mesh::sdk::JobRequest req;
      req.mode = std::string(c.args().at(0));
      req.workdir = "/";
      req.commands = {"true"};
      req.secrets = {{std::string(c.args().at(1)), ""}};
      try {
        client_.submit(host(), "echo", req, [this](uint64_t, std::string_view d) { log_ += d; },
                       [this, id = c.call_id()](uint64_t, mesh::sdk::JobOutcome o, int32_t code,
                                                std::string_view why) {
                         host().cli_respond(id, 0,
                                            log_ + std::to_string(static_cast<int>(o)) + " " +
                                                std::to_string(code) + " " + std::string(why));
                       });
      } catch (const mesh::sdk::Error& e) {
        c.reply(1, e.what());
      }
    });
  }
  mesh::sdk::Runner runner_;
  mesh::sdk::JobClient client_;
  std::string log_;
};

const mesh_plugin_descriptor* orchestrator_entry(uint32_t, uint32_t) {
  return mesh::sdk::detail::Glue<Orchestrator>::descriptor("orch", "1.0.0");
}

TEST(FakeHost, JobSubmitResolvesSecretsAndRefusesUnknownOnes) {
  FakeHost host;
  host.set_secrets({{"API_TOKEN", "s3cr3t"}});
  ASSERT_EQ(host.load(&orchestrator_entry), MESH_OK) << host.error();
  auto ok = host.cli("go", {"shell", "API_TOKEN"});
  EXPECT_EQ(ok.output, "API_TOKEN=s3cr3t\n1 3 exit code 3");
  auto missing = host.cli("go", {"shell", "NOPE"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("NOPE is not defined"), std::string::npos) << missing.output;
  auto mode = host.cli("go", {"docker", "API_TOKEN"});
  EXPECT_NE(mode.output.find("does not run this mode"), std::string::npos) << mode.output;
}

}  // namespace
