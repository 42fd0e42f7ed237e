// The ABI 1.3 host services on a real daemon: a plugin page rendered in the layout with its
// asset, navigation entry and a server-sent event received by curl (test-ui); and jobs handed
// by a submitting plugin (test-jobs) to the real runner-shell through job_submit, with a
// secret from secrets.yml masked in the log, env passthrough, and cancel killing `sleep 300`.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>

#include "harness.hpp"

extern char** environ;

using namespace mesh::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The CLI ends what a verb printed with a newline.
std::string line(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// A process whose stdout is collected by a thread while it runs (curl -N on an event stream).
class Streaming {
 public:
  explicit Streaming(std::vector<std::string> argv) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    if (posix_spawnp(&pid_, cargv[0], &fa, nullptr, cargv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        std::lock_guard lock(mu_);
        out_.append(buf, static_cast<std::size_t>(n));
      }
      ::close(fd);
    });
  }
  ~Streaming() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
  }
  std::string out() {
    std::lock_guard lock(mu_);
    return out_;
  }

 private:
  pid_t pid_ = -1;
  std::mutex mu_;
  std::string out_;
  std::thread reader_;
};

std::string jobs_result(const Node& n, const std::string& id, const std::string& until) {
  std::string out;
  eventually(
      [&] {
        out = n.mesh({"jobs-result", id}).out;
        return contains(out, until);
      },
      20s);
  return out;
}

}  // namespace

TEST(WebLayer, PluginPageAssetNavAndServerSentEvent) {
  TempDir dir("web-layer");
  Node a(dir.path(), "alice");
  a.write_config({"test-ui"});
  ASSERT_EQ(a.start().exit, 0);

  // The page, in the node's layout: the header with the node name and the plugin's nav entry,
  // the template's escaped output, the core script and then the plugin's asset.
  auto page = run({"curl", "-s", "-i", a.http_url("/ui-test")});
  ASSERT_EQ(page.exit, 0) << page.err;
  EXPECT_TRUE(contains(page.out, "HTTP/1.1 200")) << page.out;
  EXPECT_TRUE(contains(page.out, "Content-Security-Policy: default-src 'none'"));
  EXPECT_TRUE(contains(page.out, "<p id=\"node\">alice</p>"));
  EXPECT_TRUE(contains(page.out, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_FALSE(contains(page.out, "<script>alert(1)"));
  EXPECT_TRUE(contains(page.out, "href=\"/ui-test\""));
  EXPECT_TRUE(contains(page.out, "src=\"/assets/test-ui/app.js\""));
  EXPECT_TRUE(contains(page.out, "<meta name=\"mesh-csrf\""));
  // The core's node page carries the plugin's nav entry too.
  auto node_page = run({"curl", "-s", a.http_url("/")});
  EXPECT_TRUE(contains(node_page.out, "href=\"/ui-test\"")) << node_page.out.substr(0, 2000);
  // A repo page with the plugin's tab and the {repo}/{thing} captures.
  auto repo_page = run({"curl", "-s", a.http_url("/repos/demo/things/guide")});
  EXPECT_TRUE(contains(repo_page.out, "Readme of guide")) << repo_page.out;
  EXPECT_TRUE(contains(repo_page.out, "href=\"/repos/demo/things/readme\""));

  // The asset, with its ETag and revalidation.
  auto asset = run({"curl", "-s", "-i", a.http_url("/assets/test-ui/app.js")});
  EXPECT_TRUE(contains(asset.out, "HTTP/1.1 200")) << asset.out;
  EXPECT_TRUE(contains(asset.out, "window.testUi = 1;"));
  auto tag_at = asset.out.find("ETag: ");
  ASSERT_NE(tag_at, std::string::npos) << asset.out;
  std::string etag = asset.out.substr(tag_at + 6, asset.out.find('\r', tag_at) - tag_at - 6);
  auto again = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                    "If-None-Match: " + etag, a.http_url("/assets/test-ui/app.js")});
  EXPECT_EQ(again.out, "304");

  // A server-sent event published by the plugin reaches an open stream.
  Streaming stream({"curl", "-sN", "--max-time", "30", a.http_url("/events?ch=test-ui/live")});
  ASSERT_TRUE(eventually([&] { return contains(stream.out(), "retry:"); }, 10s)) << stream.out();
  auto pub = a.mesh({"ui-test", "sse", "test-ui/live", "ping", "hello\nworld"});
  EXPECT_EQ(line(pub.out), "0") << pub.err;
  EXPECT_TRUE(eventually(
      [&] { return contains(stream.out(), "event: ping\ndata: hello\ndata: world\n\n"); }, 10s))
      << stream.out();

  // When the plugin stops, its page, asset and nav entry go.
  a.write_config({});
  ASSERT_EQ(a.mesh({"reload"}).exit, 0);
  auto gone = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                   a.http_url("/assets/test-ui/app.js")});
  EXPECT_EQ(gone.out, "404");
  EXPECT_FALSE(contains(run({"curl", "-s", a.http_url("/")}).out, "href=\"/ui-test\""));
  EXPECT_EQ(a.stop().exit, 0);
}

TEST(RunnerRegistry, SubmitterGetsRunnerShellLogWithSecretMaskedAndCancelKills) {
  TempDir dir("runner-registry");
  Node a(dir.path(), "alice");
  // The daemon inherits this environment: a secret's source, a passed-through variable and one
  // that must not reach the job.
  ::setenv("MESH_IT_TOKEN", "tok-7d1e5c9a42", 1);
  ::setenv("MESH_IT_PASS", "passed-value", 1);
  ::setenv("MESH_IT_HIDDEN", "hidden-value", 1);
  a.write_config({"runner-shell", "test-jobs"},
                 "[plugins.test-jobs]\nrunner = false\n\n"
                 "[runner]\nenabled = true\nenv_passthrough = [\"MESH_IT_PASS\"]\n");
  {
    std::ofstream f(a.root() / "secrets.yml");
    f << "secrets:\n  DEPLOY_TOKEN: \"${MESH_IT_TOKEN}\"\n";
  }
  fs::permissions(a.root() / "secrets.yml", fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_EQ(a.start().exit, 0);
  fs::path work = dir.path() / "work";
  fs::create_directories(work);

  auto runners = a.mesh({"jobs-runners"});
  EXPECT_TRUE(contains(runners.out, "\"name\":\"shell\",\"plugin\":\"runner-shell\""))
      << runners.out;

  auto id = a.mesh({"jobs-submit", "shell", "shell", work.string(), "0", "secret=DEPLOY_TOKEN",
                    "env=GREETING=hi", "--", "echo \"$GREETING from $MESH_IT_PASS\"",
                    "echo \"token=$DEPLOY_TOKEN\"", "printf %s \"$DEPLOY_TOKEN\" | base64",
                    "echo \"hidden=${MESH_IT_HIDDEN:-unset}\"", "pwd"});
  ASSERT_EQ(id.exit, 0) << id.out << id.err;
  std::string job = line(id.out);
  auto r = jobs_result(a, job, "done");
  // runner-shell echoes each command ("$ ...") before its output.
  EXPECT_EQ(r,
            "done 0 0 \n"
            "$ echo \"$GREETING from $MESH_IT_PASS\"\nhi from passed-value\n"
            "$ echo \"token=$DEPLOY_TOKEN\"\ntoken=***\n"
            "$ printf %s \"$DEPLOY_TOKEN\" | base64\n***\n"
            "$ echo \"hidden=${MESH_IT_HIDDEN:-unset}\"\nhidden=unset\n"
            "$ pwd\n" +
                fs::canonical(work).string() + "\n");
  EXPECT_FALSE(contains(r, "tok-7d1e5c9a42"));

  // A secret the node does not have is refused before anything runs.
  auto missing = a.mesh(
      {"jobs-submit", "shell", "shell", work.string(), "0", "secret=NOPE", "--", "echo never"});
  EXPECT_EQ(missing.exit, 1);
  EXPECT_TRUE(contains(missing.err, "secret NOPE is not defined in secrets.yml")) << missing.err;

  // Cancel kills the job's processes, grandchildren included.
  auto long_job = a.mesh({"jobs-submit", "shell", "shell", work.string(), "0", "--",
                          "sleep 300 & echo \"child=$!\"; wait"});
  ASSERT_EQ(long_job.exit, 0) << long_job.err;
  std::string long_id = line(long_job.out);
  auto running = jobs_result(a, long_id, "\nchild=");
  auto at = running.find("\nchild=");
  ASSERT_NE(at, std::string::npos) << running;
  int child = std::atoi(running.c_str() + at + 7);
  ASSERT_GT(child, 0);
  EXPECT_TRUE(process_alive(child));
  EXPECT_EQ(line(a.mesh({"jobs-cancel", long_id}).out), "0");
  auto cancelled = jobs_result(a, long_id, "done");
  EXPECT_EQ(cancelled.substr(0, 7), "done 2 ") << cancelled;  // MESH_JOB_CANCELLED
  EXPECT_TRUE(contains(cancelled.substr(0, cancelled.find('\n')), " cancelled")) << cancelled;
  EXPECT_TRUE(eventually([&] { return !process_alive(child); }, 2s)) << "sleep 300 survived";

  // With [runner] enabled = false (the default) the node takes no jobs.
  a.write_config({"runner-shell", "test-jobs"}, "[plugins.test-jobs]\nrunner = false\n");
  ASSERT_EQ(a.mesh({"reload"}).exit, 0);
  auto off = a.mesh({"jobs-submit", "shell", "shell", work.string(), "0", "--", "echo never"});
  EXPECT_EQ(off.exit, 1);
  EXPECT_TRUE(contains(off.err, "[runner] enabled = false")) << off.err;
  EXPECT_EQ(a.stop().exit, 0);
}
