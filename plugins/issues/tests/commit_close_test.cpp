// Closing from commits: the refs event's payload, the commits a push brings to the mirror's
// default branch (a real bare repository made by the real git, read with libgit2), and the
// closes planned from their messages.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <fstream>

#include "commit_close.hpp"
#include "glue_util.hpp"

extern char** environ;

namespace mesh::issues {
namespace {

// git with argv (no shell) and a private HOME; returns stdout.
std::string git(const std::filesystem::path& home, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c",
                             "init.defaultBranch=main"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string out_file = (home / "git.out").string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> env{"HOME=" + home.string(), "GIT_CONFIG_NOSYSTEM=1",
                               "PATH=/usr/bin:/bin"};
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawnp(&pid, "git", &fa, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << args[7];
  std::ifstream in(out_file);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

struct Repo {
  test::TempDir dir;
  std::filesystem::path bare = dir.path() / "app.git", work = dir.path() / "work";
  Repo() {
    git(dir.path(), {"init", "-q", "--bare", bare.string()});
    git(dir.path(), {"init", "-q", work.string()});
  }
  std::string commit(const std::string& message) {
    git(dir.path(), {"-C", work.string(), "commit", "-q", "--allow-empty", "-m", message});
    return git(dir.path(), {"-C", work.string(), "rev-parse", "HEAD"});
  }
  void push(const std::string& ref = "main") {
    git(dir.path(), {"-C", work.string(), "push", "-q", bare.string(), "HEAD:" + ref});
  }
};

const std::string kZero(40, '0');

TEST(RefsEvent, IsCheckedBeforeUse) {
  std::string e;
  auto ok =
      parse_refs_event(R"({"repo":"app","updates":[{"ref":"refs/heads/main","old":")" + kZero +
                           R"(","new":")" + std::string(40, 'a') + R"("}],"forced":false})",
                       &e);
  ASSERT_TRUE(ok) << e;
  EXPECT_EQ(ok->repo, "app");
  ASSERT_EQ(ok->updates.size(), 1u);
  EXPECT_EQ(ok->updates[0].new_oid, std::string(40, 'a'));
  for (const char* bad :
       {"", "[]", R"({"repo":"../x","updates":[]})", R"({"repo":"app"})",
        R"({"repo":"app","updates":[{"ref":"HEAD","old":"0","new":"1"}]})",
        R"({"repo":"app","updates":[{"ref":"refs/heads/x","old":"zz","new":"1"}]})"}) {
    EXPECT_FALSE(parse_refs_event(bad, &e)) << bad;
    EXPECT_FALSE(e.empty());
  }  // Replication's removal and restore of a repo move no branch.
  for (const char* op : {"remove", "restore"}) {
    auto r = parse_refs_event(std::string(R"({"repo":"app","clock":3,"op":")") + op + "\"}", &e);
    ASSERT_TRUE(r) << op << ": " << e;
    EXPECT_TRUE(r->updates.empty());
  }
  EXPECT_FALSE(parse_refs_event(R"({"repo":"app","op":"explode"})", &e));
}

TEST(NewCommits, OnlyTheDefaultBranchAndOnlyWhatIsNew) {
  Repo r;
  std::string c1 = r.commit("first");
  r.push();
  std::string c2 = r.commit("fixes #1");
  std::string c3 = r.commit("second fix");
  r.push();
  Walked w = new_commits(r.bare, {{"refs/heads/main", c1, c3}}, 1000);
  ASSERT_TRUE(w.error.empty()) << w.error;
  EXPECT_EQ(w.head, "refs/heads/main");
  ASSERT_EQ(w.commits.size(), 2u);
  EXPECT_EQ(w.commits[0].oid, c2) << "oldest first";
  EXPECT_EQ(w.commits[0].message, "fixes #1\n");
  EXPECT_EQ(w.commits[1].oid, c3);
  EXPECT_FALSE(w.truncated);

  // A new branch is not the default branch: nothing.
  r.push("feature");
  EXPECT_TRUE(new_commits(r.bare, {{"refs/heads/feature", kZero, c3}}, 1000).commits.empty());
  // A created default branch: all of its history, bounded, the newest kept.
  Walked all = new_commits(r.bare, {{"refs/heads/main", kZero, c3}}, 2);
  EXPECT_TRUE(all.truncated);
  ASSERT_EQ(all.commits.size(), 2u);
  EXPECT_EQ(all.commits[0].oid, c2);
  EXPECT_EQ(all.commits[1].oid, c3);
  // A deletion brings nothing; a missing mirror is an error, not a crash.
  EXPECT_TRUE(new_commits(r.bare, {{"refs/heads/main", c3, kZero}}, 10).commits.empty());
  EXPECT_FALSE(
      new_commits(r.dir.path() / "nope.git", {{"refs/heads/main", kZero, c3}}, 10).error.empty());
}

TEST(PlanCloses, OpenIssuesNamedWithAKeywordCloseOnceWithTheirCommit) {
  test::Loop loop;
  loop.mirrors.push_back("lib");
  std::string one = loop.create("one");
  std::string two = loop.create("two");
  std::string done = loop.create("three");
  std::string other = loop.create("elsewhere", {}, "lib");
  loop.actions->set_state("app", done, State::closed);
  loop.pump();
  std::vector<CommitMessage> commits{
      {std::string(40, 'a'), "Fixes #1 and see #2"},
      {std::string(40, 'b'), "closes #1, resolves #3\n\nfix lib#1, fixes #9, fixes #2"},
  };
  ClosePlan plan =
      loop.service->read([&](const Board& board) { return plan_closes(board, "app", commits); });
  ASSERT_EQ(plan.closes.size(), 3u);
  EXPECT_EQ(plan.closes[0].op.issue, one);
  EXPECT_EQ(plan.closes[0].op.commit, std::string(40, 'a')) << "the first commit that names it";
  EXPECT_EQ(plan.closes[0].op.state, State::closed);
  EXPECT_EQ(plan.closes[1].op.issue, other);
  EXPECT_EQ(plan.closes[1].op.repo, "lib");
  EXPECT_EQ(plan.closes[2].op.issue, two);
  EXPECT_EQ(plan.closes[2].op.commit, std::string(40, 'b'));
  bool closed_note = false, unknown_note = false;
  for (const auto& n : plan.notes) {
    closed_note =
        closed_note || n.find("#3 in commit bbbbbbbbbbbb: closed already") != std::string::npos;
    unknown_note = unknown_note || n.find("#9") != std::string::npos;
  }
  EXPECT_TRUE(closed_note);
  EXPECT_TRUE(unknown_note);
  for (const auto& c : plan.closes) EXPECT_FALSE(validate(c.op)) << "valid ops";
}

}  // namespace
}  // namespace mesh::issues
