// The fetch-and-apply rule on real repositories: commits are made by the real git CLI, the
// mirror side is libgit2.
#include "mirror.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

using namespace mesh::repl;
namespace fs = std::filesystem;

namespace {

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class MirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("mesh-mirror-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
    work_ = base_ / "work";
    sh("git init -q -b main " + work_.string());
    git("config user.email t@example.com");
    git("config user.name t");
    mirrors_ = std::make_unique<Mirrors>(base_ / "repos");
    ASSERT_EQ(mirrors_->ensure("app"), "");
  }
  void TearDown() override {
    mirrors_.reset();
    fs::remove_all(base_);
  }
  std::string git(const std::string& args) { return sh("git -C " + work_.string() + " " + args); }
  std::string commit(const std::string& msg) {
    git("commit -q --allow-empty -m " + msg);
    return git("rev-parse HEAD");
  }
  // Brings the work repo's objects into the mirror (a local-path fetch through libgit2).
  void fetch() { ASSERT_EQ(mirrors_->fetch("app", work_.string()), ""); }
  std::string ref(const std::string& name) {
    auto refs = mirrors_->refs("app");
    auto it = refs.find(name);
    return it == refs.end() ? kZeroOid : it->second;
  }

  fs::path base_, work_;
  std::unique_ptr<Mirrors> mirrors_;
  const std::string node_ = "abcdefgh234567";
  const std::string main_ = "refs/heads/main";
};

}  // namespace

TEST_F(MirrorTest, EnsureCreatesAConfiguredBareMirrorOnce) {
  EXPECT_EQ(mirrors_->list(), std::vector<std::string>{"app"});
  EXPECT_EQ(mirrors_->ensure("app"), "");
  auto dir = mirrors_->path_of("app").string();
  EXPECT_EQ(sh("git --git-dir=" + dir + " config receive.fsckObjects"), "true");
  EXPECT_EQ(sh("git --git-dir=" + dir + " config transfer.fsckObjects"), "true");
  EXPECT_EQ(sh("git --git-dir=" + dir + " config core.logAllRefUpdates"), "always");
  EXPECT_NE(mirrors_->ensure("../x"), "");
  EXPECT_FALSE(fs::exists(base_ / "x.git"));
  EXPECT_TRUE(mirrors_->refs("app").empty());
  EXPECT_EQ(Mirrors::digest({}), "");
}

TEST_F(MirrorTest, FetchBringsObjectsButNoRefs) {
  std::string c1 = commit("one");
  git("tag v1");
  EXPECT_FALSE(mirrors_->has_object("app", c1));
  std::map<std::string, std::string> adv;
  ASSERT_EQ(mirrors_->fetch("app", work_.string(), &adv), "");
  EXPECT_TRUE(mirrors_->has_object("app", c1));
  EXPECT_EQ(adv[main_], c1);
  EXPECT_EQ(adv["refs/tags/v1"], c1);
  EXPECT_TRUE(mirrors_->refs("app").empty());  // staging refs are gone
}

TEST_F(MirrorTest, CreateFastForwardAndForcePushWhenOldMatches) {
  std::string c1 = commit("one");
  std::string c2 = commit("two");
  fetch();
  EXPECT_EQ(mirrors_->apply("app", {main_, kZeroOid, c1}, node_), Applied::updated);
  EXPECT_EQ(ref(main_), c1);
  // A fast-forward applies even if the sender's `old` is stale.
  EXPECT_EQ(mirrors_->apply("app", {main_, kZeroOid, c2}, node_), Applied::updated);
  EXPECT_EQ(ref(main_), c2);
  EXPECT_EQ(mirrors_->apply("app", {main_, c1, c2}, node_), Applied::unchanged);
  // A force-push back to c1: the pusher saw c2, which is our value.
  EXPECT_EQ(mirrors_->apply("app", {main_, c2, c1}, node_), Applied::updated);
  EXPECT_EQ(ref(main_), c1);
  EXPECT_TRUE(mirrors_->divergences("app").empty());
}

TEST_F(MirrorTest, DivergenceParksTheTipAndAMergeClearsIt) {
  std::string base = commit("base");
  std::string x = commit("x");
  git("checkout -q -b other " + base);
  std::string y = commit("y");
  fetch();
  ASSERT_EQ(mirrors_->apply("app", {main_, kZeroOid, x}, node_), Applied::updated);
  // The other node went base -> y without seeing x.
  EXPECT_EQ(mirrors_->apply("app", {main_, base, y}, node_), Applied::diverged);
  EXPECT_EQ(ref(main_), x);  // ours stays
  auto div = mirrors_->divergences("app");
  ASSERT_EQ(div.size(), 1u);
  EXPECT_EQ(div[0].ref, main_);
  EXPECT_EQ(div[0].node, node_);
  EXPECT_EQ(div[0].oid, y);
  EXPECT_EQ(div[0].parked_as, "refs/mesh/diverged/" + node_ + "/" + main_);
  // Anti-entropy seeing the same tip again changes nothing.
  EXPECT_EQ(mirrors_->reconcile("app", main_, y, node_), Applied::unchanged);
  // A merge of both tips fast-forwards main and clears the park.
  git("checkout -q main");
  git("merge -q --no-edit other");
  std::string m = git("rev-parse HEAD");
  fetch();
  EXPECT_EQ(mirrors_->apply("app", {main_, x, m}, node_), Applied::updated);
  EXPECT_TRUE(mirrors_->divergences("app").empty());
}

TEST_F(MirrorTest, DeletionsApplyOnlyWhenOldMatches) {
  std::string c1 = commit("one");
  std::string c2 = commit("two");
  fetch();
  const std::string br = "refs/heads/topic";
  ASSERT_EQ(mirrors_->apply("app", {br, kZeroOid, c2}, node_), Applied::updated);
  EXPECT_EQ(mirrors_->apply("app", {br, c1, kZeroOid}, node_), Applied::kept);
  EXPECT_EQ(ref(br), c2);
  EXPECT_EQ(mirrors_->apply("app", {br, c2, kZeroOid}, node_), Applied::updated);
  EXPECT_EQ(ref(br), kZeroOid);
  EXPECT_EQ(mirrors_->apply("app", {br, c2, kZeroOid}, node_), Applied::unchanged);
}

TEST_F(MirrorTest, MissingObjectsAreReportedNotApplied) {
  std::string c1 = commit("one");
  EXPECT_EQ(mirrors_->apply("app", {main_, kZeroOid, c1}, node_), Applied::missing);
  EXPECT_EQ(ref(main_), kZeroOid);
}

TEST_F(MirrorTest, TagsReplicateAndInvalidInputIsRefused) {
  std::string c1 = commit("one");
  git("tag -a v1 -m release");
  std::string tag = git("rev-parse v1");
  fetch();
  EXPECT_EQ(mirrors_->apply("app", {"refs/tags/v1", kZeroOid, tag}, node_), Applied::updated);
  EXPECT_EQ(ref("refs/tags/v1"), tag);
  EXPECT_EQ(mirrors_->apply("app", {"refs/heads/../x", kZeroOid, c1}, node_), Applied::kept);
  EXPECT_EQ(mirrors_->apply("app", {main_, kZeroOid, c1}, "../../x"), Applied::kept);
  EXPECT_EQ(mirrors_->apply("app", {"refs/mesh/diverged/a/refs/heads/main", kZeroOid, c1}, node_),
            Applied::kept);
}

TEST_F(MirrorTest, ReconcileCreatesFastForwardsAndLeavesUsAheadAlone) {
  std::string c1 = commit("one");
  std::string c2 = commit("two");
  fetch();
  EXPECT_EQ(mirrors_->reconcile("app", main_, c1, node_), Applied::updated);
  EXPECT_EQ(mirrors_->reconcile("app", main_, c2, node_), Applied::updated);
  EXPECT_EQ(mirrors_->reconcile("app", main_, c1, node_), Applied::unchanged);  // we are ahead
  EXPECT_EQ(ref(main_), c2);
  auto refs = mirrors_->refs("app");
  std::string d = Mirrors::digest(refs);
  EXPECT_EQ(d.size(), 16u);
  refs[main_] = c1;
  EXPECT_NE(Mirrors::digest(refs), d);
}
