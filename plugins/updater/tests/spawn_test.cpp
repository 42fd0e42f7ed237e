// spawn_detached (spawn.hpp): the watchdog runs in a session of its own, reparented away from
// its starter, without the starter's descriptors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "spawn.hpp"
#include "test_util.hpp"

namespace mesh::updater {
namespace {
namespace fs = std::filesystem;

TEST(Spawn, DetachedInItsOwnSessionWithoutOurDescriptors) {
  test::TempDir tmp;
  // A descriptor a daemon would hold (a socket, a log): not close-on-exec on purpose.
  int marker = ::open((tmp / "marker").c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(marker, 0);
  fs::path info = tmp / "info", done = tmp / "done";
  auto pid = spawn_detached(
      {"/bin/sh", "-c",
       "cut -d' ' -f4,6 /proc/$$/stat > \"$1\"; ls -l /proc/$$/fd >> \"$1\"; echo out; "
       "echo err >&2; mv \"$1\" \"$2\"",
       "sh", (tmp / "partial").string(), done.string()},
      tmp / "output.log");
  ::close(marker);
  ASSERT_TRUE(pid) << pid.error().message;
  for (int i = 0; i < 500 && !fs::exists(done); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(fs::exists(done));
  std::string text = test::read_file(done);
  std::istringstream in(text);
  long ppid = 0, sid = 0;
  in >> ppid >> sid;
  EXPECT_NE(ppid, ::getpid()) << "reparented away from the starter";
  EXPECT_NE(sid, ::getsid(0)) << "a session of its own";
  EXPECT_EQ(text.find("marker"), std::string::npos) << text;
  EXPECT_NE(text.find("/dev/null"), std::string::npos) << text;  // stdin
  for (int i = 0; i < 500 && test::read_file(tmp / "output.log") != "out\nerr\n"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(test::read_file(tmp / "output.log"), "out\nerr\n");
  EXPECT_FALSE(spawn_detached({}, tmp / "x"));
}

}  // namespace
}  // namespace mesh::updater

namespace mesh::updater {
namespace {

TEST(Spawn, TheSystemdUnitComesFromTheCgroupOfAService) {
  auto user = systemd_unit(
      "0::/user.slice/user-1000.slice/user@1000.service/app.slice/mesh.service\n", true);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->name, "mesh.service");
  EXPECT_TRUE(user->user);
  auto system = systemd_unit(
      "12:pids:/system.slice/mesh@alice.service\n"
      "1:name=systemd:/system.slice/mesh@alice.service\n",
      true);
  ASSERT_TRUE(system);
  EXPECT_EQ(system->name, "mesh@alice.service");
  EXPECT_FALSE(system->user);
  // Not a service (a login session's scope, a container), or no INVOCATION_ID.
  EXPECT_FALSE(systemd_unit("0::/user.slice/user-1000.slice/session-3.scope\n", true));
  EXPECT_FALSE(systemd_unit("0::/\n", true));
  EXPECT_FALSE(systemd_unit("0::/system.slice/mesh.service\n", false));
  EXPECT_FALSE(systemd_unit("0::/system.slice/me sh;rm.service\n", true));
}

}  // namespace
}  // namespace mesh::updater
