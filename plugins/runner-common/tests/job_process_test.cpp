// JobProcess and the job script on real processes: output, exit codes, the environment is
// exactly what was given, no daemon descriptor leaks in, cancel kills the whole process group
// (grandchildren included), and the echo of a command can never run anything.
#include "job_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <regex>
#include <thread>

#include "job_files.hpp"
#include "runner_settings.hpp"

namespace mesh::runner {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Ran {
  ProcessResult result;
  std::string out;
};

Ran run_script(const std::vector<std::string>& commands,
               std::vector<std::pair<std::string, std::string>> env = {{"PATH", "/usr/bin:/bin"}},
               JobProcess* proc = nullptr, const std::function<void(std::string_view)>& tap = {}) {
  auto dir = fs::temp_directory_path() / ("mesh-jp-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto script = dir / "job.sh";
  std::ofstream(script) << job_script(commands);
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-e", script.string()};
  spec.cwd = dir.string();
  spec.env = std::move(env);
  JobProcess local;
  Ran ran;
  ran.result = (proc ? *proc : local).run(spec, [&](std::string_view s) {
    ran.out.append(s);
    if (tap) tap(s);
  });
  fs::remove_all(dir);
  return ran;
}

// Running (a zombie waiting for init to reap it counts as gone: it runs nothing).
bool alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  return close == std::string::npos || close + 2 >= text.size() || text[close + 2] != 'Z';
}

// The pid a job printed as "<key>=<digits>" (the echoed command line has "<key>=$!" instead).
std::optional<pid_t> printed_pid(const std::string& out, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(key + "=([0-9]+)\n"))) return std::nullopt;
  return static_cast<pid_t>(std::stol(m[1]));
}

TEST(JobProcess, EchoesEachCommandThenItsOutputAndStopsAtTheFirstFailure) {
  auto r = run_script({"echo one", "echo two >&2", "false", "echo never"});
  ASSERT_TRUE(r.result.started) << r.result.error;
  EXPECT_EQ(r.result.exit_code, 1);
  EXPECT_EQ(r.out, "$ echo one\none\n$ echo two >&2\ntwo\n$ false\n");
}

TEST(JobProcess, CommandsShareOneShellSession) {
  auto r = run_script({"mkdir sub", "cd sub", "pwd | grep -q /sub$", "X=5", "test \"$X\" = 5"});
  EXPECT_EQ(r.result.exit_code, 0) << r.out;
}

TEST(JobProcess, TheEchoOfACommandCannotExecuteIt) {
  // A command whose text tries to break out of the echo's quoting: only the command itself
  // runs (once), the echo prints it verbatim.
  auto r = run_script({"echo \"it's\" '$(touch pwned)' `true`; test ! -e pwned"});
  EXPECT_EQ(r.result.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("$ echo \"it's\" '$(touch pwned)' `true`; test ! -e pwned\n"),
            std::string::npos)
      << r.out;
}

TEST(JobProcess, EnvironmentIsExactlyWhatWasGiven) {
  ::setenv("MESH_DAEMON_ONLY", "leak", 1);
  auto r = run_script({"env"}, {{"PATH", "/usr/bin:/bin"}, {"GIVEN", "yes"}});
  ::unsetenv("MESH_DAEMON_ONLY");
  EXPECT_NE(r.out.find("GIVEN=yes"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("MESH_DAEMON_ONLY"), std::string::npos) << r.out;
}

TEST(JobProcess, NoDescriptorOfTheDaemonLeaksIntoAJob) {
  int fd = ::open("/dev/null", O_RDONLY);  // not O_CLOEXEC: what a careless library leaves open
  ASSERT_GE(fd, 3);
  auto r = run_script({"ls /proc/self/fd"});
  ::close(fd);
  // 0, 1, 2 and the one ls opens to read the directory.
  std::string fds;
  for (char c : r.out.substr(r.out.find('\n') + 1))
    if (c != '\n') fds += c;
  EXPECT_EQ(fds.size(), 4u) << r.out;
}

TEST(JobProcess, CancelKillsTheWholeGroupIncludingGrandchildren) {
  JobProcess proc;
  std::promise<std::string> pids;
  bool sent = false;
  std::string seen;
  auto fut = std::async(std::launch::async, [&] {
    return run_script({"sleep 300 & echo \"bg=$!\"", "sh -c 'sleep 300 & echo \"gc=$!\"; wait'"},
                      {{"PATH", "/usr/bin:/bin"}}, &proc, [&](std::string_view s) {
                        seen.append(s);
                        if (!sent && printed_pid(seen, "gc")) {
                          sent = true;
                          pids.set_value(seen);
                        }
                      });
  });
  auto f = pids.get_future();
  ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
  std::string out = f.get();
  pid_t bg = printed_pid(out, "bg").value_or(0), gc = printed_pid(out, "gc").value_or(0);
  ASSERT_GT(bg, 0) << out;
  ASSERT_GT(gc, 0) << out;
  ASSERT_TRUE(alive(bg));
  ASSERT_TRUE(alive(gc));
  proc.cancel();
  ASSERT_EQ(fut.wait_for(30s), std::future_status::ready);
  Ran r = fut.get();
  EXPECT_TRUE(r.result.cancelled);
  EXPECT_NE(r.result.exit_code, 0);
  // Both are gone.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((alive(bg) || alive(gc)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  EXPECT_FALSE(alive(bg));
  EXPECT_FALSE(alive(gc));
}

TEST(JobProcess, BackgroundLeftoversDieWithTheJob) {
  // The job ends normally but leaves a background child holding the output pipe: the run
  // still returns, and the child is killed.
  auto r = run_script({"sleep 300 & echo \"bg=$!\""});
  EXPECT_EQ(r.result.exit_code, 0);
  pid_t bg = printed_pid(r.out, "bg").value_or(0);
  ASSERT_GT(bg, 0) << r.out;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (alive(bg) && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_FALSE(alive(bg));
}

TEST(JobProcess, CancelBeforeStartRunsNothing) {
  JobProcess proc;
  proc.cancel();
  auto r = run_script({"touch /tmp/should-not-exist-mesh"}, {{"PATH", "/usr/bin:/bin"}}, &proc);
  EXPECT_TRUE(r.result.cancelled);
  EXPECT_FALSE(r.result.started);
  EXPECT_FALSE(fs::exists("/tmp/should-not-exist-mesh"));
}

TEST(JobProcess, AMissingProgramIsAClearError) {
  ProcessSpec spec;
  spec.argv = {"/nonexistent/program"};
  spec.cwd = "/";
  JobProcess p;
  auto r = p.run(spec, [](std::string_view) {});
  EXPECT_FALSE(r.started);
  EXPECT_NE(r.error.find("/nonexistent/program"), std::string::npos) << r.error;
}

TEST(JobFiles, ScratchFilesArePrivateAndGoAway) {
  auto data = fs::temp_directory_path() / ("mesh-jf-" + std::to_string(::getpid()));
  fs::create_directories(data / "jobs" / "leftover");
  std::string err;
  ASSERT_TRUE(JobFiles::prepare_root(data, &err)) << err;
  EXPECT_FALSE(fs::exists(data / "jobs" / "leftover"));
  fs::path dir;
  {
    JobFiles f(data, 7);
    ASSERT_TRUE(f.ok()) << f.error();
    ASSERT_TRUE(f.write("env", "SECRET=x\n"));
    dir = f.dir();
    auto perms = fs::status(dir / "env").permissions();
    EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
    EXPECT_FALSE(f.write("env", "again"));  // never overwritten behind our back
  }
  EXPECT_FALSE(fs::exists(dir));
  fs::remove_all(data);
}

TEST(RunnerSettings, DefaultsAndErrorsNameTheKey) {
  auto s = parse_runner_settings("{}", "shell", false);
  EXPECT_EQ(s.name, "shell");
  EXPECT_EQ(s.slots, 2u);
  s = parse_runner_settings(R"({"name":"fast","slots":4,"labels":["linux","ssd"]})", "shell",
                            false);
  EXPECT_EQ(s.name, "fast");
  EXPECT_EQ(s.slots, 4u);
  EXPECT_EQ(s.labels.size(), 2u);
  auto err = [](const char* j, bool docker = false) {
    try {
      parse_runner_settings(j, "shell", docker);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(err(R"({"slots":0})").rfind("slots:", 0), 0u);
  EXPECT_EQ(err(R"({"slots":-1})").rfind("slots:", 0), 0u);
  EXPECT_EQ(err(R"({"labels":["a b"]})").rfind("labels:", 0), 0u);
  EXPECT_EQ(err(R"({"name":"Bad"})").rfind("name:", 0), 0u);
  EXPECT_EQ(err(R"({"docker":"podman"})").rfind("docker:", 0), 0u);  // not for the shell runner
  EXPECT_EQ(err(R"({"docker":"podman"})", true), "");
  EXPECT_EQ(err(R"({"slotz":1})").rfind("slotz: unknown", 0), 0u);
}

}  // namespace
}  // namespace mesh::runner
