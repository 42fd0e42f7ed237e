// The browse plugin itself (the built .so, loaded with dlopen) on the SDK's FakeHost: its routes
// and navigation, answers through ui_respond from its reader threads, raw answers, the 404 page
// for unknown paths below /repos, and its settings check. The FakeHost has no template engine,
// so its table's ui_render is pointed at the test renderer (the same kainjow engine).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <atomic>
#include <thread>
#include <vector>

#include "mesh/fake_host.hpp"
#include "test_renderer.hpp"
#include "test_util.hpp"

namespace mesh::browse {
namespace {
using sdk::testing::FakeHost;

mesh_plugin_entry_fn entry() {
  static void* lib = ::dlopen(BROWSE_SO, RTLD_NOW | RTLD_LOCAL);
  EXPECT_NE(lib, nullptr) << ::dlerror();
  return lib ? reinterpret_cast<mesh_plugin_entry_fn>(::dlsym(lib, MESH_PLUGIN_ENTRY_SYMBOL))
             : nullptr;
}

int32_t test_render(void*, mesh_str tmpl, mesh_str ctx, mesh_write_fn out, void* user, char* err,
                    size_t cap) {
  test::TestRenderer renderer;  // one per call: the plugin renders on two threads at once
  std::string html, error;
  if (!renderer.render(std::string_view(tmpl.ptr, tmpl.len), std::string(ctx.ptr, ctx.len), &html,
                       &error)) {
    std::snprintf(err, cap, "%s", error.c_str());
    return MESH_E_INVALID;
  }
  out(user, html.data(), html.size());
  return MESH_OK;
}

struct Loaded {
  test::RepoFixture repo;
  FakeHost host;
  explicit Loaded(const std::string& config = "{}") {
    repo.write("README.md", "# hi\n");
    repo.write("logo.png", std::string("\x89PNG\r\n\x1a\n", 8));
    repo.commit("first");
    repo.push();
    host.set_repos_dir(repo.repos().string());
    host.set_config(config);
    const_cast<mesh_host*>(host.table())->ui_render = &test_render;
  }
  int32_t load() { return host.load(entry()); }
};

TEST(Plugin, ServesTheRepoPagesInTheLayout) {
  Loaded p;
  ASSERT_EQ(p.load(), MESH_OK) << p.host.error();
  auto res = p.host.http("GET", "/repos/app", "", {{"Host", "127.0.0.1:7979"}});
  ASSERT_TRUE(res.answered);
  EXPECT_EQ(res.status, 200u) << res.body;
  auto pages = p.host.pages();
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0].repo, "app");
  EXPECT_EQ(pages[0].tab, "Code");
  EXPECT_EQ(pages[0].title, "app");
  EXPECT_NE(pages[0].body_html.find("git clone http://127.0.0.1:7979/app.git"), std::string::npos);
  EXPECT_NE(pages[0].body_html.find("README.md"), std::string::npos);

  auto index = p.host.http("GET", "/repos");
  EXPECT_EQ(index.status, 200u);
  EXPECT_EQ(p.host.pages().back().title, "Repos");
  auto raw = p.host.http("GET", "/repos/app/raw/main/logo.png");
  EXPECT_EQ(raw.status, 200u);
  EXPECT_EQ(raw.body, std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(p.host.pages().size(), 2u);  // raw bytes are not a page
  auto blob = p.host.http("GET", "/repos/app/blob/main/README.md");
  EXPECT_EQ(blob.status, 200u);
  auto commits = p.host.http("GET", "/repos/app/commits/main");
  EXPECT_EQ(commits.status, 200u);
}

TEST(Plugin, UnknownPathsBelowReposAreA404Page) {
  Loaded p;
  ASSERT_EQ(p.load(), MESH_OK) << p.host.error();
  auto res = p.host.http("GET", "/repos/app/nothing/here");
  EXPECT_EQ(res.status, 404u);
  EXPECT_NE(p.host.pages().back().body_html.find("No such page"), std::string::npos);
  EXPECT_EQ(p.host.pages().back().repo, "app");  // the repo exists: its tabs stay
  EXPECT_EQ(p.host.http("GET", "/repos/nope/ci").status, 404u);
  EXPECT_EQ(p.host.pages().back().repo, "");
  // A trailing slash is the page without it (the host's router ignores it).
  auto slash = p.host.http("GET", "/repos/app/");
  EXPECT_EQ(slash.status, 200u);
  EXPECT_EQ(p.host.pages().back().title, "app");
  EXPECT_EQ(p.host.http("GET", "/repos/nope").status, 404u);
}

TEST(Plugin, RefusesBadSettings) {
  Loaded p(R"({"threads":0})");
  EXPECT_EQ(p.load(), MESH_E_INVALID);
  EXPECT_NE(p.host.error().find("threads"), std::string::npos);
  const mesh_plugin_descriptor* d = entry()(MESH_ABI_MAJOR, MESH_ABI_MINOR);
  ASSERT_NE(d->check_config, nullptr);
  char err[MESH_ERR_CAP] = {0};
  std::string bad = R"({"max_file_bytes":1})";
  EXPECT_NE(d->check_config(bad.data(), bad.size(), err, sizeof err), MESH_OK);
  EXPECT_EQ(std::string(err).rfind("max_file_bytes", 0), 0u);
  std::string good = R"({"max_file_bytes":4096})";
  EXPECT_EQ(d->check_config(good.data(), good.size(), err, sizeof err), MESH_OK);
}

TEST(Plugin, ConcurrentRequestsAreAllAnswered) {
  Loaded p(R"({"threads":2,"queue":64})");
  ASSERT_EQ(p.load(), MESH_OK) << p.host.error();
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto r = p.host.http("GET", t % 2 ? "/repos/app" : "/repos/app/blob/main/README.md");
        if (r.answered && r.status == 200) ++ok;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 30);
}

TEST(Plugin, StopsCleanlyWithRequestsDone) {
  Loaded p;
  ASSERT_EQ(p.load(), MESH_OK) << p.host.error();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p.host.http("GET", "/repos/app").status, 200u);
  p.host.stop();
  EXPECT_EQ(p.host.http("GET", "/repos/app").status, 404u);  // the routes are gone
}

}  // namespace
}  // namespace mesh::browse
