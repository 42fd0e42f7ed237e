// The install layout mesh update manages (layout.hpp), on temporary trees.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layout.hpp"
#include "test_util.hpp"

namespace mesh::updater {
namespace {
namespace fs = std::filesystem;

// <prefix>/lib/mesh/versions/<v>/bin/mesh for each v, current -> versions/<current>.
fs::path make_layout(const fs::path& prefix, const std::vector<std::string>& versions,
                     const std::string& current) {
  for (const auto& v : versions) {
    fs::create_directories(prefix / "lib/mesh/versions" / v / "bin");
    test::write_file(prefix / "lib/mesh/versions" / v / "bin/mesh", "#!/bin/sh\n");
  }
  fs::create_symlink("versions/" + current, prefix / "lib/mesh/current");
  fs::create_directories(prefix / "bin");
  fs::create_symlink("../lib/mesh/current/bin/mesh", prefix / "bin/mesh");
  return prefix / "lib/mesh/versions" / current / "bin/mesh";
}

TEST(Layout, FindsTheVersionedInstallOfTheRunningBinary) {
  test::TempDir tmp;
  fs::path exe = make_layout(tmp / "usr", {"1.0.0", "1.1.0"}, "1.1.0");
  fs::create_symlink("versions/1.0.0", tmp / "usr/lib/mesh/previous");
  auto in = locate_install(exe, tmp / "no-dpkg-list");
  ASSERT_TRUE(in) << in.error().message;
  EXPECT_EQ(in->prefix, tmp / "usr");
  EXPECT_EQ(in->versions, tmp / "usr/lib/mesh/versions");
  EXPECT_EQ(in->running, "1.1.0");
  EXPECT_EQ(in->current, "1.1.0");
  EXPECT_EQ(in->previous, "1.0.0");
  EXPECT_EQ(in->version_dir("2.0.0"), tmp / "usr/lib/mesh/versions/2.0.0");
}

TEST(Layout, AnythingElseIsRefusedWithWhatToDo) {
  test::TempDir tmp;
  auto refused = [&](const fs::path& exe, const fs::path& dpkg = "/nonexistent") {
    auto in = locate_install(exe, dpkg);
    return in ? std::string() : in.error().message;
  };
  // A build tree, a plain `cmake --install`, a version directory that is not a version.
  EXPECT_NE(refused(tmp / "build/cli/mesh").find("./install.sh"), std::string::npos);
  EXPECT_NE(refused(tmp / "usr/bin/mesh").find("lib/mesh/versions/<version>"), std::string::npos);
  EXPECT_NE(refused(tmp / "p/lib/mesh/versions/latest/bin/mesh").find("not"), std::string::npos);
  EXPECT_NE(refused(tmp / "p/lib/mesh/versions/1.0.0/bin/mesh (deleted)").find("deleted"),
            std::string::npos);
  // The layout without its current link.
  fs::path exe = make_layout(tmp / "q", {"1.0.0"}, "1.0.0");
  fs::remove(tmp / "q/lib/mesh/current");
  EXPECT_NE(refused(exe).find("current"), std::string::npos);
  // A binary that dpkg owns.
  fs::path deb = make_layout(tmp / "d", {"1.0.0"}, "1.0.0");
  test::write_file(tmp / "mesh.list", "/usr\n/usr/bin\n" + deb.string() + "\n");
  EXPECT_NE(refused(deb, tmp / "mesh.list").find("apt"), std::string::npos);
}

TEST(Layout, VersionLinksPointIntoVersionsOnly) {
  test::TempDir tmp;
  fs::create_symlink("versions/1.2.3", tmp / "a");
  fs::create_symlink("/etc", tmp / "b");
  fs::create_symlink("versions/../../x", tmp / "c");
  fs::create_symlink("versions/1.2.3/bin", tmp / "d");
  test::write_file(tmp / "e", "not a link");
  EXPECT_EQ(version_link(tmp / "a"), "1.2.3");
  for (const char* n : {"b", "c", "d", "e", "missing"}) EXPECT_FALSE(version_link(tmp / n)) << n;
  EXPECT_TRUE(valid_version_dir("1.2.3-rc.1+b5"));
  for (const char* bad : {"", ".", "..", "v1.2.3", "1.2", "1.2.3/x", ".staging-1.2.3"})
    EXPECT_FALSE(valid_version_dir(bad)) << bad;
}

TEST(Layout, LeftoversAreClearedButNeverWhatRuns) {
  test::TempDir tmp;
  fs::path exe = make_layout(tmp / "p", {"1.0.0", "2.0.0"}, "1.0.0");
  auto in = locate_install(exe, "/nonexistent");
  ASSERT_TRUE(in);
  ASSERT_TRUE(clear_version_dir(*in, "2.0.0"));
  EXPECT_FALSE(fs::exists(tmp / "p/lib/mesh/versions/2.0.0"));
  EXPECT_TRUE(clear_version_dir(*in, "3.0.0"));   // nothing there: fine
  EXPECT_FALSE(clear_version_dir(*in, "1.0.0"));  // the running one
  EXPECT_TRUE(fs::exists(exe));
  EXPECT_FALSE(clear_version_dir(*in, "../x"));
}

TEST(Layout, VersionsInUseAreThoseProcessesRunFrom) {
  // This test binary runs from the build tree: a versions/ directory holding a copy of it
  // shows that version as in use while the copy runs.
  test::TempDir tmp;
  fs::path versions = tmp / "lib/mesh/versions";
  fs::create_directories(versions / "1.0.0/bin");
  fs::copy_file("/bin/sleep", versions / "1.0.0/bin/sleep");
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string path = (versions / "1.0.0/bin/sleep").string();
    ::execl(path.c_str(), "sleep", "30", static_cast<char*>(nullptr));
    _exit(127);
  }
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    seen = versions_in_use(versions).count("1.0.0") > 0;
    if (!seen) ::usleep(10'000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_TRUE(seen);
  EXPECT_EQ(versions_in_use(versions).count("1.0.0"), 0u);
}

}  // namespace
}  // namespace mesh::updater
