// The runner registry on real threads: ordering of log/done, masking, timeouts, cancels,
// runners that never report or never stop, slots, removal. No sleeps: every wait is for the
// state it checks, with a deadline.
#include "mesh/jobs/registry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

namespace mesh::jobs {
namespace {

using namespace std::chrono_literals;

// What a Sink saw, with a way to wait for done().
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> chunks;
  bool done = false;
  int done_calls = 0;
  bool log_after_done = false;
  Outcome outcome = Outcome::error;
  int exit_code = 0;
  std::string reason;

  Sink sink() {
    return Sink{[this](std::string c) {
                  std::lock_guard l(mu);
                  if (done) log_after_done = true;
                  chunks.push_back(std::move(c));
                },
                [this](Outcome o, int code, std::string why) {
                  std::lock_guard l(mu);
                  ++done_calls;
                  done = true;
                  outcome = o;
                  exit_code = code;
                  reason = std::move(why);
                  cv.notify_all();
                }};
  }
  bool wait_done(std::chrono::milliseconds d = 10s) {
    std::unique_lock l(mu);
    return cv.wait_for(l, d, [&] { return done; });
  }
  std::string text() {
    std::lock_guard l(mu);
    std::string all;
    for (auto& c : chunks) all += c;
    return all;
  }
};

// A gate a runner thread blocks on until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void release() {
    std::lock_guard l(mu);
    open = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return open; });
  }
};

JobSpec job(std::string mode = "shell") {
  JobSpec j;
  j.run_id = "r1";
  j.job_name = "build";
  j.mode = std::move(mode);
  j.workdir = "/tmp";
  j.commands = {"true"};
  return j;
}

Runner runner(
    Registry& reg, std::string name, std::function<void(std::uint64_t, const JobSpec&)> run,
    std::function<void(std::uint64_t)> cancel = [](std::uint64_t) {}) {
  (void)reg;
  Runner r;
  r.name = std::move(name);
  r.owner = "runner-plugin";
  r.modes = {"shell"};
  r.labels = {"linux"};
  r.slots = 1;
  r.run = std::move(run);
  r.cancel = std::move(cancel);
  return r;
}

TEST(JobRegistry, LogsArriveInOrderThenExactlyOneDone) {
  Registry reg;
  ASSERT_TRUE(reg.add_runner(runner(reg, "echo", [&reg](std::uint64_t id, const JobSpec& j) {
    for (int i = 0; i < 200; ++i)
      ASSERT_TRUE(reg.log(id, std::to_string(i) + ",", "runner-plugin"));
    ASSERT_TRUE(reg.finish(id, Outcome::passed, 0, "", "runner-plugin"));
    // After the end nothing more is delivered, and the runner is told so.
    EXPECT_EQ(reg.log(id, "late", "runner-plugin").error().code, Errc::not_found);
    EXPECT_EQ(j.job_name, "build");
  })));
  Seen seen;
  auto id = reg.submit("echo", job(), seen.sink(), "ci");
  ASSERT_TRUE(id) << id.error().message;
  ASSERT_TRUE(seen.wait_done());
  std::string expected;
  for (int i = 0; i < 200; ++i) expected += std::to_string(i) + ",";
  EXPECT_EQ(seen.text(), expected);
  EXPECT_EQ(seen.outcome, Outcome::passed);
  EXPECT_EQ(seen.done_calls, 1);
  EXPECT_FALSE(seen.log_after_done);
}

TEST(JobRegistry, SecretsAreMaskedAlsoWhenSplitAcrossChunks) {
  Registry reg;
  ASSERT_TRUE(reg.add_runner(runner(reg, "echo", [&reg](std::uint64_t id, const JobSpec&) {
    (void)reg.log(id, "token=hunt", "runner-plugin");
    (void)reg.log(id, "er2-secret!\n", "runner-plugin");
    (void)reg.finish(id, Outcome::passed, 0, "", "runner-plugin");
  })));
  Seen seen;
  auto spec = job();
  spec.secrets = {{"API_TOKEN", "hunter2-secret"}};
  ASSERT_TRUE(reg.submit("echo", spec, seen.sink(), "ci"));
  ASSERT_TRUE(seen.wait_done());
  EXPECT_EQ(seen.text().find("hunter2"), std::string::npos) << seen.text();
  EXPECT_NE(seen.text().find("token="), std::string::npos) << seen.text();
  EXPECT_NE(seen.text().find("!\n"), std::string::npos) << seen.text();
}

TEST(JobRegistry, RunnerThatReturnsWithoutAResultIsAnError) {
  Registry reg;
  ASSERT_TRUE(reg.add_runner(runner(reg, "lazy", [](std::uint64_t, const JobSpec&) {})));
  Seen seen;
  ASSERT_TRUE(reg.submit("lazy", job(), seen.sink(), "ci"));
  ASSERT_TRUE(seen.wait_done());
  EXPECT_EQ(seen.outcome, Outcome::error);
  EXPECT_NE(seen.reason.find("returned without a result"), std::string::npos) << seen.reason;
}

TEST(JobRegistry, TimeoutCancelsAndReportsTimedOut) {
  Registry reg;
  Gate killed;
  ASSERT_TRUE(reg.add_runner(runner(
      reg, "slow",
      [&](std::uint64_t id, const JobSpec&) {
        killed.wait();  // "sleep 300" until its process group is killed
        (void)reg.finish(id, Outcome::failed, 137, "killed", "runner-plugin");
      },
      [&](std::uint64_t) { killed.release(); })));
  Seen seen;
  auto spec = job();
  spec.timeout = 50ms;
  ASSERT_TRUE(reg.submit("slow", spec, seen.sink(), "ci"));
  ASSERT_TRUE(seen.wait_done());
  EXPECT_EQ(seen.outcome, Outcome::timed_out);
  EXPECT_NE(seen.reason.find("timed out"), std::string::npos) << seen.reason;
}

TEST(JobRegistry, RunnerThatIgnoresCancelIsEndedAfterTheGraceAndKeepsItsSlotUntilItReturns) {
  Options o;
  o.kill_grace = 50ms;
  Registry reg(o);
  Gate release;
  std::promise<void> returned;
  ASSERT_TRUE(reg.add_runner(runner(reg, "stubborn", [&](std::uint64_t id, const JobSpec&) {
    release.wait();
    EXPECT_EQ(reg.log(id, "too late", "runner-plugin").error().code, Errc::not_found);
    EXPECT_FALSE(reg.finish(id, Outcome::passed, 0, "", "runner-plugin"));
    returned.set_value();
  })));
  Seen seen;
  auto id = reg.submit("stubborn", job(), seen.sink(), "ci");
  ASSERT_TRUE(id);
  ASSERT_TRUE(reg.cancel(*id, "ci"));
  ASSERT_TRUE(seen.wait_done());
  EXPECT_EQ(seen.outcome, Outcome::cancelled);
  EXPECT_NE(seen.reason.find("did not stop"), std::string::npos) << seen.reason;
  // The thread still runs: its slot is still taken.
  EXPECT_EQ(reg.runners().at(0).free, 0u);
  Seen second;
  EXPECT_EQ(reg.submit("stubborn", job(), second.sink(), "ci").error().code, Errc::limit);
  release.release();
  returned.get_future().wait();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (reg.runners().at(0).free != 1u && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  EXPECT_EQ(reg.runners().at(0).free, 1u);
  EXPECT_EQ(second.done_calls, 0);
}

TEST(JobRegistry, CancelOnlyBySubmitterAndOnlyWhileRunning) {
  Registry reg;
  Gate killed;
  ASSERT_TRUE(reg.add_runner(runner(
      reg, "slow",
      [&](std::uint64_t id, const JobSpec&) {
        killed.wait();
        (void)reg.finish(id, Outcome::failed, 143, "", "runner-plugin");
      },
      [&](std::uint64_t) { killed.release(); })));
  Seen seen;
  auto id = reg.submit("slow", job(), seen.sink(), "ci");
  ASSERT_TRUE(id);
  EXPECT_EQ(reg.cancel(*id, "someone-else").error().code, Errc::not_found);
  ASSERT_TRUE(reg.cancel(*id, "ci"));
  ASSERT_TRUE(seen.wait_done());
  EXPECT_EQ(seen.outcome, Outcome::cancelled);
  EXPECT_EQ(reg.cancel(*id, "ci").error().code, Errc::not_found);
}

TEST(JobRegistry, RemovingARunnerCancelsItsJobs) {
  Registry reg;
  Gate killed;
  ASSERT_TRUE(reg.add_runner(runner(
      reg, "slow",
      [&](std::uint64_t id, const JobSpec&) {
        killed.wait();
        (void)reg.finish(id, Outcome::failed, 143, "", "runner-plugin");
      },
      [&](std::uint64_t) { killed.release(); })));
  Seen seen;
  ASSERT_TRUE(reg.submit("slow", job(), seen.sink(), "ci"));
  EXPECT_EQ(reg.remove_runner("slow", "other-plugin").error().code, Errc::not_found);
  reg.remove_owner("runner-plugin");
  ASSERT_TRUE(seen.wait_done(0ms));  // remove waits for the job to end
  EXPECT_EQ(seen.outcome, Outcome::cancelled);
  EXPECT_NE(seen.reason.find("stopped"), std::string::npos) << seen.reason;
  EXPECT_TRUE(reg.runners().empty());
}

TEST(JobRegistry, SubmitChecksRunnerModeSlotsAndSpec) {
  Registry reg;
  Gate hold;
  ASSERT_TRUE(reg.add_runner(runner(reg, "one", [&](std::uint64_t id, const JobSpec&) {
    hold.wait();
    (void)reg.finish(id, Outcome::passed, 0, "", "runner-plugin");
  })));
  EXPECT_EQ(reg.add_runner(runner(reg, "one", [](std::uint64_t, const JobSpec&) {})).error().code,
            Errc::exists);
  EXPECT_EQ(
      reg.add_runner(runner(reg, "Bad Name", [](std::uint64_t, const JobSpec&) {})).error().code,
      Errc::invalid);
  Seen a, b;
  EXPECT_EQ(reg.submit("nope", job(), a.sink(), "ci").error().code, Errc::not_found);
  EXPECT_EQ(reg.submit("one", job("docker"), a.sink(), "ci").error().code, Errc::invalid);
  auto bad = job();
  bad.workdir = "relative";
  EXPECT_EQ(reg.submit("one", bad, a.sink(), "ci").error().code, Errc::invalid);
  bad = job();
  bad.env = {{"1BAD", "x"}};
  EXPECT_EQ(reg.submit("one", bad, a.sink(), "ci").error().code, Errc::invalid);
  ASSERT_TRUE(reg.submit("one", job(), a.sink(), "ci"));
  EXPECT_EQ(reg.submit("one", job(), b.sink(), "ci").error().code, Errc::limit);
  ASSERT_EQ(reg.jobs().size(), 1u);
  EXPECT_EQ(reg.jobs()[0].submitter, "ci");
  hold.release();
  ASSERT_TRUE(a.wait_done());
  EXPECT_EQ(a.outcome, Outcome::passed);
  EXPECT_EQ(b.done_calls, 0);  // refused jobs never reach their sink
}

TEST(JobRegistry, DestructorDoesNotWaitForeverForARunnerThatNeverReturns) {
  auto never = std::make_shared<Gate>();  // outlives the detached runner thread
  Seen seen;
  {
    Options o;
    o.kill_grace = 20ms;
    o.stop_wait = 50ms;
    Registry reg(o);
    ASSERT_TRUE(reg.add_runner(
        runner(reg, "hung", [never](std::uint64_t, const JobSpec&) { never->wait(); })));
    ASSERT_TRUE(reg.submit("hung", job(), seen.sink(), "ci"));
  }
  // The submitter was told, even though the runner is still inside run().
  EXPECT_EQ(seen.done_calls, 1);
  EXPECT_EQ(seen.outcome, Outcome::cancelled);
  never->release();  // the detached thread finds its job ended and returns
}

}  // namespace
}  // namespace mesh::jobs
