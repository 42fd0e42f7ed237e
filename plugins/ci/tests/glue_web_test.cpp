// The CI pages on the simulated mesh, rendered with the same mustache engine as the host: the
// runs table, a run with its jobs and logs (job output is text, never markup), the log route,
// cancel through the page, the live sections and log chunks sent as server-sent events.
#include <gtest/gtest.h>

#include "sim_trio.hpp"

using namespace mesh::ci;
using namespace mesh::ci::sim;

namespace {

bool has(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::size_t sent(SimNode& n, const std::string& channel, const std::string& event,
                 const std::string& needle = "") {
  std::lock_guard lock(n.mu);
  std::size_t k = 0;
  for (const auto& [c, e, d] : n.sse_sent) k += c == channel && e == event && has(d, needle);
  return k;
}

}  // namespace

TEST(CiWeb, RunsAndRunPagesShowStateJobsAndLogsAsText) {
  Trio t;
  t.c.auto_run = false;
  t.start();
  std::string sha = t.push(t.a, kTwoJobs);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] {
    const RunState* r = t.b.run(id);
    return r && r->jobs[0].phase == JobPhase::running;
  }));
  t.c.job("build")->log("<script>alert(1)</script> & more\n");
  t.net.pump();
  // The live chunk went to bob's run channel as a "log" event, as text.
  EXPECT_EQ(sent(t.b, "ci/run/" + id, "log", "\"offset\":0"), 1u);
  WebOut runs = t.b.ci->web().runs("my-app");
  ASSERT_TRUE(runs.page);
  EXPECT_EQ(runs.status, 200);
  EXPECT_TRUE(has(runs.body_html, short_run_id(id))) << runs.body_html;
  EXPECT_TRUE(has(runs.body_html, "state-running")) << runs.body_html;
  EXPECT_TRUE(has(runs.body_html, "data-mesh-sse=\"ci/my-app\""));
  WebOut page = t.b.ci->web().run("my-app", id.substr(0, 8));
  ASSERT_EQ(page.status, 200) << page.body_html;
  EXPECT_EQ(page.scripts, "/assets/ci/ci.js");
  EXPECT_TRUE(has(page.body_html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"))
      << page.body_html;
  EXPECT_FALSE(has(page.body_html, "<script>"));
  EXPECT_TRUE(has(page.body_html, "data-job=\"build\""));
  EXPECT_TRUE(has(page.body_html, "Cancel run"));
  EXPECT_TRUE(has(page.body_html, "name=\"csrf\" value=\"CSRF\""));
  WebOut log = t.a.ci->web().log("my-app", id, "build");
  EXPECT_EQ(log.status, 200);
  EXPECT_EQ(log.body, "<script>alert(1)</script> & more\n");  // text/plain
  EXPECT_EQ(log.content_type, "text/plain; charset=utf-8");

  t.c.finish("build", JobOutcome::passed, 0);
  ASSERT_TRUE(t.net.until([&] { return t.c.job("test") != nullptr; }));
  t.c.finish("test", JobOutcome::failed, 2, "boom\n");
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::failed); }));
  t.net.advance(1000);  // a tick flushes the changed sections
  EXPECT_GE(sent(t.a, "ci/my-app", "section", "ci-runs"), 1u);
  EXPECT_GE(sent(t.a, "ci/run/" + id, "section", "state-failed"), 1u);
  EXPECT_GE(sent(t.a, "ci/run/" + id, "state", "\"ended\""), 1u);
  page = t.a.ci->web().run("my-app", id);
  EXPECT_TRUE(has(page.body_html, "job test failed: exit code 2")) << page.body_html;
  EXPECT_TRUE(has(page.body_html, "data-complete=\"true\""));
  EXPECT_FALSE(has(page.body_html, "Cancel run"));
}

TEST(CiWeb, CancelFromThePageAndWhatIsNotThere) {
  Trio t;
  t.c.auto_run = false;
  t.start();
  std::string sha = t.push(t.a, kTwoJobs);
  std::string id = t.run_id_of(sha);
  ASSERT_TRUE(t.net.until([&] { return t.c.job("build") != nullptr; }));
  WebOut c = t.b.ci->web().cancel("my-app", id);
  EXPECT_EQ(c.status, 303);
  ASSERT_EQ(c.headers.size(), 1u);
  EXPECT_EQ(c.headers[0].second, "/repos/my-app/ci/" + id);
  ASSERT_TRUE(t.net.until([&] { return t.everywhere(id, RunPhase::cancelled); }));
  EXPECT_EQ(t.a.run(id)->reason, "cancelled by bob (web page)");
  EXPECT_EQ(t.b.ci->web().run("my-app", "ffff0000").status, 404);
  EXPECT_EQ(t.b.ci->web().run("other", id).status, 404);
  EXPECT_EQ(t.b.ci->web().run("my-app", "../x").status, 404);
  EXPECT_EQ(t.b.ci->web().runs("no-such").status, 404);
  EXPECT_EQ(t.b.ci->web().log("my-app", id, "nope").status, 404);
  EXPECT_EQ(t.b.ci->web().cancel("my-app", "zz").status, 404);
}
