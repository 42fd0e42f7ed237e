// The issues plugin itself (the built .so, loaded with dlopen) on the SDK's FakeHost: the verb
// answering once its op came back through the subscription, events from members and strangers,
// the status section, SSE on changes, closing from a pushed commit, the board's routes on a host
// without a template engine, and refused settings. (Restarts and the journal: service_test.)
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <thread>

#include "glue_util.hpp"
#include "mesh/fake_host.hpp"

extern char** environ;

namespace {
namespace json = boost::json;
using mesh::sdk::testing::FakeEvent;
using mesh::sdk::testing::FakeHost;
using namespace std::chrono_literals;

mesh_plugin_entry_fn entry() {
  static void* lib = ::dlopen(ISSUES_SO, RTLD_NOW | RTLD_LOCAL);
  if (!lib) return nullptr;
  return reinterpret_cast<mesh_plugin_entry_fn>(::dlsym(lib, MESH_PLUGIN_ENTRY_SYMBOL));
}

// Delivers published events on a thread of its own while the test waits in cli()/http(), as
// the daemon's delivery thread does.
class Pump {
 public:
  explicit Pump(FakeHost& h)
      : h_(h), t_([this] {
          while (!stop_) {
            h_.deliver();
            std::this_thread::sleep_for(1ms);
          }
        }) {}
  ~Pump() {
    stop_ = true;
    t_.join();
  }

 private:
  FakeHost& h_;
  std::atomic<bool> stop_{false};
  std::thread t_;
};

struct Plugin {
  mesh::issues::test::TempDir repos;
  FakeHost host;
  explicit Plugin(const std::string& config = "{}") {
    std::filesystem::create_directories(repos.path() / "app.git");
    host.set_repos_dir(repos.path().string());
    host.set_self(R"({"name":"alice","id":"mesh:alice"})");
    host.set_peers(R"([{"name":"bob","id":"mesh:bob","state":"up","addresses":[]}])");
    host.set_config(config);
  }
  json::value cli_json(const std::vector<std::string>& args) {
    auto r = host.cli("issues", args, true);
    EXPECT_TRUE(r.answered);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    boost::system::error_code ec;
    auto v = json::parse(r.output, ec);
    EXPECT_FALSE(ec) << r.output;
    return v;
  }
  bool logged(const std::string& needle) const {
    for (const auto& l : host.logs()) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

TEST(IssuesPlugin, TheVerbAnswersOnceItsOpIsBack) {
  ASSERT_NE(entry(), nullptr) << ::dlerror();
  Plugin p;
  ASSERT_EQ(p.host.load(entry()), MESH_OK) << p.host.error();
  auto verbs = p.host.verbs();
  EXPECT_NE(std::find(verbs.begin(), verbs.end(), "issues"), verbs.end());
  {
    Pump pump(p.host);
    json::value created =
        p.cli_json({"new", "app", "--title", "From the plugin", "--label", "bug"});
    EXPECT_EQ(created.at("num").as_int64(), 1);
    // Answered after the subscription took it: the next command sees it.
    json::value list = p.cli_json({"list", "app"});
    ASSERT_EQ(list.as_array().size(), 1u);
    EXPECT_EQ(list.as_array()[0].at("title").as_string(), "From the plugin");
    EXPECT_EQ(list.as_array()[0].at("author").as_string(), "alice");
    EXPECT_EQ(json::serialize(p.cli_json({"label", "app", "1", "+ui"})),
              R"({"ok":true,"labels":["bug","ui"]})");
  }
  auto published = p.host.published();
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[0].topic, "issues");
  EXPECT_NE(published[0].payload.find(R"("op":"create")"), std::string::npos);

  // Usage errors and failures keep the CLI's exit codes.
  auto usage = p.host.cli("issues", {"new", "app"});
  EXPECT_EQ(usage.exit_code, 2);
  auto failed = p.host.cli("issues", {"show", "app", "7"});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_EQ(failed.output, "no issue 7 in app");
  EXPECT_EQ(p.host.published().size(), 2u);

  // Every change went out on the repo's SSE channel.
  auto sse = p.host.sse();
  ASSERT_GE(sse.size(), 2u);
  EXPECT_EQ(sse[0].first, "issues/app");
  EXPECT_NE(sse[0].second.find(R"("repo":"app")"), std::string::npos);
}

TEST(IssuesPlugin, MembersCountStrangersAreRefusedAndLogged) {
  Plugin p;
  ASSERT_EQ(p.host.load(entry()), MESH_OK) << p.host.error();
  std::string create = R"({"v":1,"op":"create","repo":"app","num":1,"title":"Bob's","order":"a0"})";
  p.host.inject(FakeEvent{"mesh:bob", "issues", create, 1, 5, 1000});
  p.host.inject(FakeEvent{"mesh:mallory", "issues", create, 1, 6, 1000});
  p.host.inject(
      FakeEvent{"mesh:bob", "issues", R"({"v":1,"op":"teleport","repo":"app"})", 2, 7, 1000});
  EXPECT_EQ(p.host.deliver(), 3u) << "all acknowledged: a refusal never stops delivery";
  json::value list = p.cli_json({"list", "app"});
  ASSERT_EQ(list.as_array().size(), 1u);
  EXPECT_EQ(list.as_array()[0].at("author").as_string(), "bob");
  EXPECT_TRUE(p.logged("mesh:mallory")) << "the stranger's op is logged";
  EXPECT_TRUE(p.logged("refused op mesh:bob #2"));
  EXPECT_TRUE(p.logged("kind"));

  // The status section counts them (mesh status and `mesh issues status`).
  p.host.advance(3s);
  json::value status = json::parse(p.host.status_json());
  const auto& s = status.at("issues").as_object();
  EXPECT_EQ(s.at("issues").as_int64(), 1);
  EXPECT_EQ(s.at("non_member").as_int64(), 1);
  EXPECT_EQ(s.at("refused_by_reason").at("kind").as_int64(), 1);
  EXPECT_NE(p.host.status_text().find("issues\n  1 issues in 1 repos"), std::string::npos)
      << p.host.status_text();
  EXPECT_NE(p.host.status_html().find("<section class=\"box\" id=\"issues-status\">"),
            std::string::npos);
  json::value own = p.cli_json({"status"});
  EXPECT_EQ(own.at("non_member").as_int64(), 1);
}

std::string run_git(const std::filesystem::path& home, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-c", "user.name=t", "-c", "user.email=t@e", "-c",
                             "init.defaultBranch=main"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string out = (home / "out").string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::string h = "HOME=" + home.string();
  char* envp[] = {h.data(), const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
  pid_t pid = 0;
  posix_spawnp(&pid, "git", &fa, nullptr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(out);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

TEST(IssuesPlugin, APushToTheDefaultBranchClosesWhatItsCommitsFix) {
  Plugin p;
  std::filesystem::remove_all(p.repos.path() / "app.git");
  auto bare = p.repos.path() / "app.git";
  auto work = p.repos.path() / "work";
  run_git(p.repos.path(), {"init", "-q", "--bare", bare.string()});
  run_git(p.repos.path(), {"init", "-q", work.string()});
  run_git(p.repos.path(), {"-C", work.string(), "commit", "-q", "--allow-empty", "-m", "base"});
  std::string base = run_git(p.repos.path(), {"-C", work.string(), "rev-parse", "HEAD"});
  run_git(p.repos.path(),
          {"-C", work.string(), "commit", "-q", "--allow-empty", "-m", "Handle it\n\nFixes #1"});
  std::string fix = run_git(p.repos.path(), {"-C", work.string(), "rev-parse", "HEAD"});
  run_git(p.repos.path(), {"-C", work.string(), "push", "-q", bare.string(), "HEAD:main"});
  ASSERT_EQ(fix.size(), 40u);

  ASSERT_EQ(p.host.load(entry()), MESH_OK) << p.host.error();
  Pump pump(p.host);
  p.cli_json({"new", "app", "--title", "Crash"});
  std::string refs = R"({"repo":"app","updates":[{"ref":"refs/heads/main","old":")" + base +
                     R"(","new":")" + fix + R"("}],"forced":false})";
  // Relayed from another node: that node acted on it already.
  p.host.inject(FakeEvent{"mesh:bob", "refs", refs, 9, 90, 1000});
  // Received here (this node's own event).
  p.host.inject(FakeEvent{"", "refs", refs, 10, 100, 1000});
  bool closed = false;
  for (int i = 0; i < 200 && !closed; ++i) {
    closed = p.cli_json({"show", "app", "1"}).at("state").as_string() == "closed";
    if (!closed) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(closed);
  EXPECT_EQ(p.cli_json({"show", "app", "1"}).at("closed_by").as_string(), fix);
  std::size_t closes = 0;
  for (const auto& e : p.host.published()) {
    closes += e.payload.find(R"("op":"set_state")") != std::string::npos;
  }
  EXPECT_EQ(closes, 1u) << "the relayed copy closed nothing";
  EXPECT_TRUE(p.logged("#1 closed by commit " + fix.substr(0, 12)));
}

TEST(IssuesPlugin, BoardRoutesSayWhyWithoutATemplateEngine) {
  Plugin p;
  ASSERT_EQ(p.host.load(entry()), MESH_OK) << p.host.error();
  auto r = p.host.http("GET", "/repos/app/issues");
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.status, 501u);
  EXPECT_NE(r.body.find("ui_render"), std::string::npos) << r.body;
  auto missing = p.host.http("GET", "/repos/nope/issues");
  EXPECT_EQ(missing.status, 501u) << "the 404 page needs the template engine too";
  auto post = p.host.http("POST", "/repos/app/issues/1/comment", "body=x",
                          {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(post.status, 501u) << "no issue 1: the error page, which cannot be rendered here";
}

TEST(IssuesPlugin, BadSettingsFailTheStartWithTheKey) {
  Plugin p(R"({"reply_wait_ms":"soon"})");
  EXPECT_NE(p.host.load(entry()), MESH_OK);
  EXPECT_NE(p.host.error().find("[plugins.issues] reply_wait_ms: must be an integer"),
            std::string::npos)
      << p.host.error();
}

}  // namespace
