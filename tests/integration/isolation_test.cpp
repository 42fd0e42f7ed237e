// No plugin on another's threads: with the real daemon, test-blocker blocks its event handler,
// its timer and an HTTP handler (one per thread of its executor), and test-hello's events,
// timers, routes and verbs are served meanwhile. The blocked subscription shows as stalled in
// `mesh plugins`, and everything resumes when the blocker is released.
#include <gtest/gtest.h>

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

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The entry of `id` in `mesh plugins --json` (null when absent or on error).
json::value plugin_entry(const Node& n, const std::string& id) {
  auto p = n.mesh({"--json", "plugins"});
  boost::system::error_code ec;
  auto doc = json::parse(p.out, ec);
  if (ec || !doc.is_array()) return nullptr;
  for (const auto& e : doc.as_array())
    if (e.at("id").as_string() == id) return e;
  return nullptr;
}

std::int64_t running_of(const Node& n, const std::string& id) {
  auto e = plugin_entry(n, id);
  return e.is_object() ? e.at("running").to_number<std::int64_t>() : -1;
}

json::array stalled_of(const Node& n, const std::string& id) {
  auto e = plugin_entry(n, id);
  return e.is_object() ? e.at("stalled").as_array() : json::array{};
}

Proc curl(const std::vector<std::string>& args, std::chrono::seconds max = 60s) {
  std::vector<std::string> argv{"curl", "-sS",        "--noproxy",
                                "*",    "--max-time", std::to_string(max.count())};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, max + 10s);
}

// mesh.toml with both test plugins and an executor of three threads per plugin: the blocker
// occupies all three of its own, and a shared pool of that size would be full.
void write_config(const Node& n) {
  std::ofstream f(n.root() / "mesh.toml", std::ios::trunc);
  f << "[node]\nname = \"" << n.name() << "\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n"
    << "[plugins]\nenabled = [\"test-hello\", \"test-blocker\"]\npaths = [\"" << test_plugin_dir()
    << "\"]\nexecutor_threads = 3\n\n"
    << "[discovery]\nenabled = false\n";
}

}  // namespace

TEST(Isolation, ABlockedPluginDelaysNoOtherPlugin) {
  TempDir dir("isolation");
  Node a(dir.path(), "alice");
  write_config(a);
  ASSERT_EQ(a.start().exit, 0);
  const fs::path blocker_dir = a.root() / "data" / "test-blocker";
  const fs::path log = blocker_dir / "blocker.log";
  const fs::path seen = a.root() / "data" / "test-hello" / "seen.log";
  ASSERT_TRUE(eventually([&] {
    auto e = plugin_entry(a, "test-blocker");
    return e.is_object() && e.at("state").as_string() == "running";
  }));

  // 1. Events: the blocker's handler blocks, and test-hello's subscription is served while
  //    it does. With one delivery thread for every subscription, test-hello's events could only
  //    arrive after the host stopped waiting for the blocker (10 s) and marked it stalled: so
  //    they must all be there before the blocker's subscription shows as stalled.
  ASSERT_EQ(a.mesh({"hello-publish", "1", "test.block"}).exit, 0);
  ASSERT_TRUE(eventually([&] { return count_of(read_file(log), "event blocked") == 1; }, 30s))
      << read_file(log);
  ASSERT_EQ(a.mesh({"hello-publish", "3"}).exit, 0);
  ASSERT_TRUE(eventually([&] { return count_of(read_file(seen), "event-") == 3; }, 30s))
      << read_file(seen);
  EXPECT_TRUE(stalled_of(a, "test-blocker").empty())
      << "test-hello's events waited for the blocker's handler";

  // 2. Timers and routes: the blocker takes the other two threads of its executor.
  ASSERT_EQ(a.mesh({"blocker-arm-timer"}).exit, 0);
  ASSERT_TRUE(eventually([&] { return count_of(read_file(log), "timer blocked") == 1; }, 30s))
      << read_file(log);
  Proc blocked_get;
  std::thread client([&] { blocked_get = curl({a.http_url("/blocker/block")}); });
  ASSERT_TRUE(eventually([&] { return count_of(read_file(log), "http blocked") == 1; }, 30s))
      << read_file(log);
  EXPECT_EQ(running_of(a, "test-blocker"), 3);

  // test-hello's timer keeps firing, its route and its verb answer.
  auto ticks = [&] {
    auto r = curl({a.http_url("/hello/ticks")}, 10s);
    return r.exit == 0 ? std::stol(r.out) : -1L;
  };
  long before = ticks();
  EXPECT_GE(before, 0);
  EXPECT_TRUE(eventually([&] { return ticks() > before; }, 10s)) << "test-hello's timer stalled";
  auto hello = curl({a.http_url("/hello")}, 10s);
  EXPECT_EQ(hello.exit, 0) << hello.err;
  EXPECT_EQ(hello.out, "hello from test-hello\n");
  auto verb = a.mesh({"hello", "still", "here"}, 10s);
  EXPECT_EQ(verb.exit, 0) << verb.err;
  EXPECT_EQ(verb.out, "hello still here\n");
  // ...and another event reaches it.
  ASSERT_EQ(a.mesh({"hello-publish", "1"}).exit, 0);
  EXPECT_TRUE(eventually([&] { return count_of(read_file(seen), "event-") == 4; }, 30s));

  // All of that happened while the blocker was still blocked.
  EXPECT_EQ(count_of(read_file(log), "released"), 0u) << read_file(log);
  EXPECT_EQ(running_of(a, "test-blocker"), 3);

  // 3. Visible: the blocked subscription is listed as stalled once the host gave up waiting.
  EXPECT_TRUE(
      eventually([&] { return stalled_of(a, "test-blocker") == json::array{"block"}; }, 30s))
      << json::serialize(plugin_entry(a, "test-blocker"));
  EXPECT_EQ(count_of(read_file(log), "released"), 0u) << "released before it was seen stalled";

  // 4. Released: the blocked request is answered, the event acknowledged (its handler ran
  //    once), and nothing is stalled or running any more.
  std::ofstream(blocker_dir / "release").put('x');
  client.join();
  EXPECT_EQ(blocked_get.exit, 0) << blocked_get.err;
  EXPECT_EQ(blocked_get.out, "released\n");
  EXPECT_TRUE(eventually(
      [&] { return running_of(a, "test-blocker") == 0 && stalled_of(a, "test-blocker").empty(); },
      30s))
      << json::serialize(plugin_entry(a, "test-blocker"));
  // A sentinel event after the blocked one: once the blocker has handled it, the first one
  // was acknowledged and is not offered again.
  ASSERT_EQ(a.mesh({"hello-publish", "1", "test.block"}).exit, 0);
  EXPECT_TRUE(eventually([&] { return count_of(read_file(log), "event released") == 2; }, 30s))
      << read_file(log);
  EXPECT_EQ(count_of(read_file(log), "event blocked"), 2u) << read_file(log);
  EXPECT_EQ(a.stop().exit, 0);
}
