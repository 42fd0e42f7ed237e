// `mesh reload` with the real daemon: it runs off the control socket's I/O thread and waits for
// each plugin's stop at most [plugins] stop_timeout_ms (test-blocker's stop hangs on command),
// and plugin settings are checked before anything changes (check_config, ABI 1.3).
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "harness.hpp"

using namespace mesh::test;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

json::value plugin_entry(const Node& n, const std::string& id) {
  auto p = n.mesh({"--json", "plugins"});
  boost::system::error_code ec;
  auto doc = json::parse(p.out, ec);
  if (ec || !doc.is_array()) return nullptr;
  for (const auto& e : doc.as_array())
    if (e.at("id").as_string() == id) return e;
  return nullptr;
}

std::string state_of(const Node& n, const std::string& id) {
  auto e = plugin_entry(n, id);
  return e.is_object() ? std::string(e.at("state").as_string()) : "absent";
}

// mesh.toml with the given plugins, a short stop deadline and `extra` (e.g. plugin tables).
void write_config(const Node& n, const std::vector<std::string>& enabled,
                  const std::string& extra = "") {
  std::ofstream f(n.root() / "mesh.toml", std::ios::trunc);
  f << "[node]\nname = \"" << n.name() << "\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n"
    << "[plugins]\nenabled = [";
  for (std::size_t i = 0; i < enabled.size(); ++i) f << (i ? ", " : "") << '"' << enabled[i] << '"';
  f << "]\npaths = [\"" << test_plugin_dir() << "\"]\nstop_timeout_ms = 2000\n\n"
    << "[discovery]\nenabled = false\n\n"
    << extra;
}

}  // namespace

TEST(Reload, AnsweredWhileAPluginsStopHangsAndTheControlSocketKeepsAnswering) {
  TempDir dir("reload-stuck");
  Node a(dir.path(), "alice");
  write_config(a, {"test-hello", "test-blocker"});
  ASSERT_EQ(a.start().exit, 0);
  const fs::path blocker_dir = a.root() / "data" / "test-blocker";
  ASSERT_EQ(a.mesh({"blocker-hang-stop"}).exit, 0);

  // Disable the blocker: its stop() hangs (until released, at most 20 s).
  write_config(a, {"test-hello"});
  std::atomic<bool> reloaded{false};
  Proc reload;
  std::thread t([&] {
    reload = a.mesh({"--json", "reload"});
    reloaded = true;
  });
  ASSERT_TRUE(
      eventually([&] { return read_file(blocker_dir / "blocker.log") == "stop blocked\n"; }, 30s))
      << read_file(blocker_dir / "blocker.log");
  // The reload waits for the stop; the control socket answers other commands meanwhile.
  auto status = a.mesh({"--json", "status"}, 10s);
  EXPECT_EQ(status.exit, 0) << status.err;
  auto hello = a.mesh({"hello", "meanwhile"}, 10s);
  EXPECT_EQ(hello.out, "hello meanwhile\n") << hello.err;
  EXPECT_EQ(state_of(a, "test-blocker"), "stopping");

  // Past the deadline the reload answers and names the plugin that is still stopping.
  t.join();
  ASSERT_EQ(reload.exit, 0) << reload.err;
  auto doc = json::parse(reload.out);
  EXPECT_EQ(doc.at("reloaded"), true);
  EXPECT_EQ(doc.at("stuck"), (json::array{"test-blocker"})) << reload.out;
  EXPECT_EQ(read_file(blocker_dir / "blocker.log"), "stop blocked\n") << "the stop returned";
  auto entry = plugin_entry(a, "test-blocker");
  EXPECT_EQ(entry.at("state"), "stopping");
  EXPECT_NE(std::string(entry.at("error").as_string()).find("stop() has not returned"),
            std::string::npos)
      << json::serialize(entry);
  EXPECT_EQ(state_of(a, "test-hello"), "running");

  // Enabled again while it is still stopping: it starts once its stop returns.
  write_config(a, {"test-hello", "test-blocker"});
  auto again = a.mesh({"--json", "reload"});
  EXPECT_EQ(again.exit, 0) << again.err;
  EXPECT_EQ(state_of(a, "test-blocker"), "stopping");
  std::ofstream(blocker_dir / "release").put('x');
  EXPECT_TRUE(eventually([&] { return state_of(a, "test-blocker") == "running"; }, 30s))
      << json::serialize(plugin_entry(a, "test-blocker"));
  EXPECT_EQ(read_file(blocker_dir / "blocker.log"), "stop blocked\nstop released\n");
  EXPECT_EQ(a.mesh({"--json", "plugins"}).exit, 0);
  EXPECT_EQ(a.stop().exit, 0);
}

namespace {

Proc curl(const std::string& url) {
  return run({"curl", "-sS", "--noproxy", "*", "--max-time", "30", url}, {}, 40s);
}

// The 1-based line of mesh.toml that starts with `text`.
int line_of(const Node& n, const std::string& text) {
  std::ifstream in(n.root() / "mesh.toml");
  std::string line;
  for (int i = 1; std::getline(in, line); ++i)
    if (line.rfind(text, 0) == 0) return i;
  return -1;
}

}  // namespace

TEST(Reload, InvalidPluginSettingsAreRefusedWithTheirLineAndNothingChanges) {
  TempDir dir("reload-check");
  Node a(dir.path(), "alice");
  write_config(a, {"test-hello", "test-blocker"}, "[plugins.test-hello]\ngreeting = \"first\"\n");
  ASSERT_EQ(a.start().exit, 0);
  EXPECT_EQ(curl(a.http_url("/hello")).out, "hello from test-hello\nfirst\n");

  // An invalid value, with a valid change next to it: refused as a whole.
  write_config(a, {"test-hello"}, "[plugins.test-hello]\ngreeting = \"second\"\nlimit = -1\n");
  const int line = line_of(a, "limit = -1");
  ASSERT_GT(line, 0);
  auto refused = a.mesh({"reload"});
  EXPECT_EQ(refused.exit, 1);
  EXPECT_NE(refused.err.find("mesh.toml:" + std::to_string(line) +
                             ": [plugins.test-hello] limit: must be positive"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("nothing was changed"), std::string::npos) << refused.err;
  // The running configuration stays: the greeting, and the blocker that was to be disabled.
  EXPECT_EQ(curl(a.http_url("/hello")).out, "hello from test-hello\nfirst\n");
  EXPECT_EQ(state_of(a, "test-blocker"), "running");
  EXPECT_EQ(state_of(a, "test-hello"), "running");

  // Each setting is pointed at by its own line.
  write_config(a, {"test-hello", "test-blocker"},
               "[plugins.test-hello]\ngreeting = \"" + std::string(65, 'g') + "\"\n");
  refused = a.mesh({"reload"});
  EXPECT_EQ(refused.exit, 1);
  EXPECT_NE(refused.err.find("mesh.toml:" + std::to_string(line_of(a, "greeting =")) +
                             ": [plugins.test-hello] greeting: at most 64 characters"),
            std::string::npos)
      << refused.err;

  // Valid new settings: the plugin is restarted, so it reads them, and the reply says so.
  write_config(a, {"test-hello", "test-blocker"},
               "[plugins.test-hello]\ngreeting = \"second\"\nlimit = 5\n");
  auto ok = a.mesh({"--json", "reload"});
  ASSERT_EQ(ok.exit, 0) << ok.err;
  auto doc = json::parse(ok.out);
  EXPECT_EQ(doc.at("restarted"), (json::array{"test-hello"})) << ok.out;
  EXPECT_EQ(doc.at("failed"), json::array{}) << ok.out;
  EXPECT_EQ(curl(a.http_url("/hello")).out, "hello from test-hello\nsecond\n");
  // Unchanged settings restart nothing.
  auto same = a.mesh({"--json", "reload"});
  ASSERT_EQ(same.exit, 0) << same.err;
  EXPECT_EQ(json::parse(same.out).at("restarted"), json::array{}) << same.out;

  // The invalid file again, then a restart: the daemon comes up healthy, the plugin that
  // refuses its settings is reported with the line, and the other plugin runs.
  write_config(a, {"test-hello", "test-blocker"},
               "[plugins.test-hello]\ngreeting = \"third\"\nlimit = 0\n");
  EXPECT_EQ(a.mesh({"reload"}).exit, 1);
  ASSERT_EQ(a.stop().exit, 0);
  ASSERT_EQ(a.restart().exit, 0);
  EXPECT_EQ(a.mesh({"--json", "status"}).exit, 0);
  EXPECT_EQ(state_of(a, "test-blocker"), "running");
  auto hello = plugin_entry(a, "test-hello");
  EXPECT_EQ(hello.at("state"), "failed");
  EXPECT_NE(std::string(hello.at("error").as_string())
                .find("mesh.toml:" + std::to_string(line_of(a, "limit = 0")) +
                      ": [plugins.test-hello] limit: must be positive"),
            std::string::npos)
      << json::serialize(hello);
  EXPECT_EQ(curl(a.http_url("/blocker")).out, "blocker\n");
  // Fixed: a reload brings it up.
  write_config(a, {"test-hello", "test-blocker"},
               "[plugins.test-hello]\ngreeting = \"fixed\"\nlimit = 1\n");
  EXPECT_EQ(a.mesh({"reload"}).exit, 0);
  EXPECT_EQ(state_of(a, "test-hello"), "running");
  EXPECT_EQ(curl(a.http_url("/hello")).out, "hello from test-hello\nfixed\n");
  EXPECT_EQ(a.stop().exit, 0);
}
