// ABI 1.3 core services with the real daemon and test-hello: status sections in `mesh status`,
// repos_dir, and `mesh sync` publishing the node-local topic local.sync.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

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

}  // namespace

TEST(CoreServices, StatusSectionsJoinMeshStatus) {
  TempDir dir("core-status");
  Node a(dir.path(), "alice");
  a.write_config({"test-hello"});
  ASSERT_EQ(a.start().exit, 0);

  auto set = a.mesh({"hello-status", R"({"widgets":3,"repos":[{"name":"demo","refs":{}}]})",
                     "Hello\n  3 widgets\n", "<p>3 widgets</p>"});
  ASSERT_EQ(set.exit, 0) << set.out << set.err;
  auto status = a.mesh_json({"status"});
  ASSERT_TRUE(status.is_object());
  const auto& s = status.as_object();
  EXPECT_EQ(s.at("widgets"), 3);
  // A section's member replaces the core's default (no replication plugin runs here).
  EXPECT_EQ(s.at("repos"), json::parse(R"([{"name":"demo","refs":{}}])"));
  EXPECT_EQ(s.at("sections"), json::parse(R"({"test-hello":{"text":"Hello\n  3 widgets\n"}})"));
  EXPECT_EQ(s.at("node").at("name"), "alice");
  // The text is the section's, as given, after the core's parts; the core does not read the
  // section's "repos" (only replication's own section text shows repos).
  auto text = a.mesh({"status"});
  EXPECT_EQ(text.exit, 0) << text.err;
  EXPECT_NE(text.out.find("\nHello\n  3 widgets\n"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("demo"), std::string::npos) << text.out;
  // The node page carries the section's HTML in the plugin's box.
  auto page = run({"curl", "-s", "-f", a.http_url("/")});
  ASSERT_EQ(page.exit, 0) << page.err;
  EXPECT_NE(page.out.find("data-mesh-section=\"test-hello\">\n<p>3 widgets</p>"),
            std::string::npos)
      << page.out;

  // The core's keys are refused, and the section stays as it was.
  auto refused = a.mesh({"hello-status", R"({"node":{"name":"mallory"}})"});
  EXPECT_EQ(refused.exit, 1);
  EXPECT_EQ(refused.err, "error: -1\n");  // MESH_E_INVALID
  EXPECT_EQ(a.mesh_json({"status"}).at("node").at("name"), "alice");

  // repos_dir is <root>/repos.
  auto repos = a.mesh({"hello-repos"});
  EXPECT_EQ(repos.exit, 0) << repos.err;
  EXPECT_EQ(repos.out, fs::absolute(a.root() / "repos").string() + "\n");

  // The section goes away with the plugin.
  a.write_config({});
  ASSERT_EQ(a.mesh({"reload"}).exit, 0);
  status = a.mesh_json({"status"});
  EXPECT_FALSE(status.as_object().contains("widgets"));
  EXPECT_EQ(status.at("repos"), json::array{});
  EXPECT_EQ(status.at("sections"), json::object{});
  EXPECT_EQ(a.stop().exit, 0);
}

// `mesh sync [REPO]` validates the name and the mirror, then publishes local.sync, which only
// this node's subscribers get (live, never stored).
TEST(CoreServices, SyncPublishesLocalSync) {
  TempDir dir("core-sync");
  Node a(dir.path(), "alice");
  a.write_config({"test-hello"});
  ASSERT_EQ(a.start().exit, 0);
  const fs::path log = a.root() / "data" / "test-hello" / "local.log";

  for (const std::string& bad : {std::string(".hidden"), std::string("-x"), std::string("_x"),
                                 std::string("a..b"),
                                 std::string("a/b"), std::string("app.git"), std::string("x.lock"),
                                 std::string(101, 'a'), std::string("sp ace")}) {
    auto r = a.mesh({"sync", bad});
    EXPECT_EQ(r.exit, 1) << bad;
    EXPECT_NE(r.err.find("error: invalid repo name"), std::string::npos) << bad << ": " << r.err;
  }
  auto missing = a.mesh({"sync", "nope"});
  EXPECT_EQ(missing.exit, 1);
  EXPECT_NE(missing.err.find("error: no repo 'nope' on this node"), std::string::npos)
      << missing.err;
  EXPECT_EQ(a.mesh({"sync", "a", "b"}).exit, 2);
  EXPECT_EQ(read_file(log), "") << "a refused sync published something";

  fs::create_directories(a.root() / "repos" / "demo.git");
  auto one = a.mesh({"--json", "sync", "demo"});
  EXPECT_EQ(one.exit, 0) << one.err;
  EXPECT_EQ(json::parse(one.out).at("ok"), true) << one.out;
  EXPECT_TRUE(eventually([&] {
    return read_file(log) == "local.sync {\"repo\":\"demo\"} ephemeral\n";
  })) << read_file(log);
  auto all = a.mesh({"sync"});
  EXPECT_EQ(all.exit, 0) << all.err;
  EXPECT_TRUE(eventually([&] {
    return read_file(log) ==
           "local.sync {\"repo\":\"demo\"} ephemeral\nlocal.sync {\"repo\":null} ephemeral\n";
  })) << read_file(log);
  // Plugins may use local topics too; nothing of them is stored, so a restart replays nothing.
  ASSERT_EQ(a.mesh({"hello-publish", "1", "local.note"}).exit, 0);
  EXPECT_TRUE(eventually([&] {
    return read_file(log).ends_with("local.note event-1 ephemeral\n");
  })) << read_file(log);
  ASSERT_EQ(a.stop().exit, 0);
  ASSERT_EQ(a.restart().exit, 0);
  ASSERT_EQ(a.mesh({"hello-publish", "1", "local.sentinel"}).exit, 0);
  EXPECT_TRUE(eventually([&] {
    return read_file(log).ends_with("local.sentinel event-1 ephemeral\n");
  })) << read_file(log);
  const std::string lines = read_file(log);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 4) << lines;
  EXPECT_EQ(a.stop().exit, 0);
}
