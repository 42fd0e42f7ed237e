// Shared by the browse unit tests: a temporary directory, the real git with argv (no shell) and
// a private HOME, and a work repo that pushes into a bare mirror under repos_dir, as the
// replication plugin's mirrors are.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace mesh::browse::test {
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "mesh-browse-test-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
    path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << data;
}

// git with argv and a private HOME; `env` adds NAME=value entries (dates); `input` is stdin.
// Returns stdout; a non-zero exit fails the test with stderr.
inline std::string run_git(const fs::path& home, std::vector<std::string> args,
                           const std::vector<std::string>& env = {},
                           const std::string& input = {}) {
  args.insert(args.begin(), {"git", "-c", "user.name=Tess Ter", "-c", "user.email=t@example.com",
                             "-c", "init.defaultBranch=main", "-c", "core.autocrlf=false"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envs = {
      "HOME=" + home.string(), "GIT_CONFIG_NOSYSTEM=1",
      "PATH=" + std::string(std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin")};
  for (const auto& e : env) envs.push_back(e);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  const fs::path in = home / "git.in", out = home / "git.out", err = home / "git.err";
  write_file(in, input);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, "git", &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "git " << args[9] << " failed: " << read_file(err);
  std::string s = read_file(out);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// A work tree `work` and its mirror `<repos>/<name>.git`.
class RepoFixture {
 public:
  explicit RepoFixture(std::string name = "app") : name_(std::move(name)) {
    fs::create_directories(home());
    fs::create_directories(repos());
    run_git(home(), {"init", "-q", work().string()});
    run_git(home(), {"init", "-q", "--bare", mirror().string()});
  }
  fs::path home() const { return dir_.path() / "home"; }
  fs::path repos() const { return dir_.path() / "repos"; }
  fs::path work() const { return dir_.path() / "work"; }
  fs::path mirror() const { return repos() / (name_ + ".git"); }
  const std::string& name() const { return name_; }

  std::string git(std::vector<std::string> args, const std::vector<std::string>& env = {},
                  const std::string& input = {}) {
    args.insert(args.begin(), {"-C", work().string()});
    return run_git(home(), std::move(args), env, input);
  }
  void write(const std::string& path, const std::string& data) { write_file(work() / path, data); }
  // Commits everything in the work tree; `when` is "<epoch> +0000" for both dates.
  std::string commit(const std::string& message, const std::string& when = "") {
    git({"add", "-A"});
    std::vector<std::string> env;
    if (!when.empty()) env = {"GIT_AUTHOR_DATE=" + when, "GIT_COMMITTER_DATE=" + when};
    git({"commit", "-q", "--allow-empty", "-m", message}, env);
    return git({"rev-parse", "HEAD"});
  }
  void push(const std::string& refspec = "+refs/heads/*:refs/heads/*") {
    git({"push", "-q", "--force", mirror().string(), refspec});
  }
  void push_tags() {
    git({"push", "-q", "--force", mirror().string(), "+refs/tags/*:refs/tags/*"});
  }

 private:
  TempDir dir_;
  std::string name_;
};

}  // namespace mesh::browse::test
