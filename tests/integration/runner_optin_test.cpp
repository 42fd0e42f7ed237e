// `mesh runner enable|disable`: opting in to running CI jobs is one command. It edits only
// [runner] enabled in mesh.toml (comments and other tables kept), refuses to write a file the
// daemon would refuse, and a running daemon takes it at once.
#include <gtest/gtest.h>

#include <fstream>

#include "harness.hpp"

using namespace mesh::test;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace

TEST(RunnerOptIn, EnableAndDisableEditOnlyThatLineAndReloadARunningNode) {
  TempDir dir("runner-optin");
  Node a(dir.path(), "alice");
  ASSERT_EQ(a.mesh({"init", "--name", "alice"}).exit, 0);
  const fs::path toml = a.root() / "mesh.toml";
  const std::string fresh = slurp(toml);
  ASSERT_NE(fresh.find("[runner]"), std::string::npos);
  ASSERT_NE(fresh.find("\nenabled = false\n"), std::string::npos);

  // Without a daemon: the file changes, and the command says when it takes effect.
  auto on = a.mesh({"runner", "enable"});
  ASSERT_EQ(on.exit, 0) << on.err;
  EXPECT_NE(on.out.find("takes effect when the node starts"), std::string::npos) << on.out;
  std::string now = slurp(toml);
  EXPECT_EQ(now.find("\nenabled = false\n"), std::string::npos);
  // Everything but that one line is as init wrote it (comments included).
  std::string expected_tail = fresh.substr(fresh.find("[runner]"));
  expected_tail.replace(expected_tail.find("\nenabled = false\n"), 17, "\nenabled = true\n");
  EXPECT_EQ(now.substr(now.find("[runner]")), expected_tail);
  EXPECT_EQ(now.substr(0, now.find("[runner]")), fresh.substr(0, fresh.find("[runner]")));

  // A daemon running: it reloads.
  a.write_config({});
  {
    std::ofstream f(toml, std::ios::app);
    f << "\n[runner]\n# mine\nenabled = false\nlabels = [\"linux\"]\n";
  }
  ASSERT_EQ(a.start().exit, 0);
  auto json = a.mesh_json({"runner", "enable"});
  ASSERT_TRUE(json.is_object());
  EXPECT_TRUE(json.at("enabled").as_bool());
  EXPECT_TRUE(json.at("reloaded").as_bool());
  now = slurp(toml);
  EXPECT_NE(now.find("[runner]\n# mine\nenabled = true\nlabels = [\"linux\"]\n"), std::string::npos)
      << now;
  auto off = a.mesh({"runner", "disable"});
  EXPECT_EQ(off.exit, 0) << off.err;
  EXPECT_NE(off.out.find("reloaded"), std::string::npos) << off.out;
  EXPECT_NE(slurp(toml).find("[runner]\n# mine\nenabled = false\n"), std::string::npos);

  // A file the daemon would refuse stays as it is.
  {
    std::ofstream f(toml, std::ios::app);
    f << "\n[http]\nlisten = 5\n";  // a second [http] table and a wrong type
  }
  const std::string broken = slurp(toml);
  auto refused = a.mesh({"runner", "enable"});
  EXPECT_EQ(refused.exit, 1);
  EXPECT_NE(refused.err.find("mesh.toml left unchanged"), std::string::npos) << refused.err;
  EXPECT_EQ(slurp(toml), broken);

  // Usage.
  EXPECT_EQ(a.mesh({"runner"}).exit, 2);
  EXPECT_EQ(a.mesh({"runner", "maybe"}).exit, 2);
  EXPECT_EQ(a.stop().exit, 0);
}
