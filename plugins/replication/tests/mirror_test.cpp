// Mirrors on real repositories: commits are made by the real git CLI, the mirror side is
// libgit2 (fetch, compare-and-swap, the graph, parked tips, leftovers, the trash).
#include "mirror.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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
  void fetch() { ASSERT_EQ(mirrors_->fetch("app", work_.string(), ""), ""); }
  std::string ref(const std::string& name) {
    auto refs = mirrors_->refs("app");
    auto it = refs.find(name);
    return it == refs.end() ? kZeroOid : it->second;
  }

  fs::path base_, work_;
  std::unique_ptr<Mirrors> mirrors_;
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
  ASSERT_EQ(mirrors_->fetch("app", work_.string(), "", &adv), "");
  EXPECT_TRUE(mirrors_->has_object("app", c1));
  EXPECT_EQ(adv[main_], c1);
  EXPECT_EQ(adv["refs/tags/v1"], c1);
  EXPECT_TRUE(mirrors_->refs("app").empty());  // staging refs are gone
}

TEST_F(MirrorTest, SetRefIsACompareAndSwap) {
  std::string c1 = commit("one");
  std::string c2 = commit("two");
  fetch();
  bool raced = false;
  EXPECT_EQ(mirrors_->set_ref("app", main_, kZeroOid, c1, "t", &raced), "");
  EXPECT_FALSE(raced);
  EXPECT_EQ(ref(main_), c1);
  // Created already: a second creation loses the race.
  EXPECT_NE(mirrors_->set_ref("app", main_, kZeroOid, c2, "t", &raced), "");
  EXPECT_TRUE(raced);
  EXPECT_EQ(ref(main_), c1);
  // A stale `from` loses; the right one moves it.
  EXPECT_NE(mirrors_->set_ref("app", main_, c2, c1, "t", &raced), "");
  EXPECT_TRUE(raced);
  EXPECT_EQ(mirrors_->set_ref("app", main_, c1, c2, "t", &raced), "");
  EXPECT_EQ(ref(main_), c2);
  // Deletion, also only from the value it has.
  EXPECT_NE(mirrors_->set_ref("app", main_, c1, kZeroOid, "t", &raced), "");
  EXPECT_TRUE(raced);
  EXPECT_EQ(mirrors_->set_ref("app", main_, c2, kZeroOid, "t", &raced), "");
  EXPECT_EQ(ref(main_), kZeroOid);
}

TEST_F(MirrorTest, ContainsFollowsTheGraph) {
  std::string c1 = commit("one");
  std::string c2 = commit("two");
  git("checkout -q -b side " + c1);
  std::string s1 = commit("side");
  fetch();
  EXPECT_TRUE(mirrors_->contains("app", c2, c1));
  EXPECT_TRUE(mirrors_->contains("app", c2, c2));
  EXPECT_FALSE(mirrors_->contains("app", c1, c2));
  EXPECT_FALSE(mirrors_->contains("app", c2, s1));
  EXPECT_FALSE(mirrors_->contains("app", s1, c2));
  EXPECT_FALSE(mirrors_->contains("app", c2, std::string(40, 'e')));  // not here
}

TEST_F(MirrorTest, ParkedTipsAreListedAndDigested) {
  std::string c1 = commit("one");
  fetch();
  bool raced = false;
  ASSERT_EQ(mirrors_->set_ref("app", main_, kZeroOid, c1, "t", &raced), "");
  auto before = Mirrors::digest(mirrors_->all_refs("app"));
  const std::string parked = "refs/mesh/parked/" + c1 + "/heads/other";
  ASSERT_EQ(mirrors_->set_ref("app", parked, kZeroOid, c1, "t", &raced), "");
  auto all = mirrors_->all_refs("app");
  EXPECT_EQ(all.at(parked), c1);
  EXPECT_EQ(mirrors_->refs("app").count(parked), 0u);  // not a head or tag
  EXPECT_NE(Mirrors::digest(all), before);             // but part of what nodes compare
  // A member's fetch brings parked tips' objects too.
  ASSERT_EQ(mirrors_->ensure("copy"), "");
  std::map<std::string, std::string> adv;
  ASSERT_EQ(mirrors_->fetch("copy", mirrors_->path_of("app").string(), "", &adv), "");
  EXPECT_EQ(adv.at(parked), c1);
  EXPECT_TRUE(mirrors_->has_object("copy", c1));
}

TEST_F(MirrorTest, ACancelledFetchStopsAndBringsNothing) {
  std::string c1 = commit("one");
  ASSERT_EQ(mirrors_->ensure("copy"), "");
  std::atomic<bool> cancel{true};
  EXPECT_NE(mirrors_->fetch("copy", work_.string(), "", nullptr, &cancel), "");
  EXPECT_FALSE(mirrors_->has_object("copy", c1));
  cancel = false;
  EXPECT_EQ(mirrors_->fetch("copy", work_.string(), "", nullptr, &cancel), "");
  EXPECT_TRUE(mirrors_->has_object("copy", c1));
  // No staging ref stays behind.
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(mirrors_->path_of("copy") / "refs", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    EXPECT_FALSE(it->is_regular_file()) << it->path();
  }
}

TEST_F(MirrorTest, LeftoversOfAKilledProcessAreRemoved) {
  const fs::path m = mirrors_->path_of("app");
  fs::create_directories(m / "objects" / "incoming-AbC123" / "pack");
  fs::create_directories(m / "objects" / "tmp_objdir-incoming-xyz");
  std::ofstream(m / "objects" / "pack" / "tmp_pack_123") << "half a pack";
  std::ofstream(m / "objects" / "pack" / "pack_git2_abc") << "half a pack";
  std::ofstream(m / "refs" / "heads" / "main.lock") << "x";
  std::ofstream(m / "packed-refs.lock") << "x";
  std::string c1 = commit("one");
  fetch();
  bool raced = false;
  ASSERT_EQ(mirrors_->set_ref("app", "refs/heads/keep", kZeroOid, c1, "t", &raced), "");
  // A killed fetch's staging ref.
  ASSERT_EQ(mirrors_->set_ref("app", "refs/mesh/incoming/7/heads/main", kZeroOid, c1, "t", &raced),
            "");
  auto removed = mirrors_->clean_leftovers("app");
  EXPECT_EQ(removed.size(), 7u);
  EXPECT_FALSE(fs::exists(m / "refs" / "mesh" / "incoming" / "7" / "heads" / "main"));
  EXPECT_FALSE(fs::exists(m / "objects" / "incoming-AbC123"));
  EXPECT_FALSE(fs::exists(m / "objects" / "tmp_objdir-incoming-xyz"));
  EXPECT_FALSE(fs::exists(m / "objects" / "pack" / "tmp_pack_123"));
  EXPECT_FALSE(fs::exists(m / "objects" / "pack" / "pack_git2_abc"));
  EXPECT_FALSE(fs::exists(m / "refs" / "heads" / "main.lock"));
  EXPECT_FALSE(fs::exists(m / "packed-refs.lock"));
  EXPECT_EQ(ref("refs/heads/keep"), c1);  // real data stays
  EXPECT_TRUE(mirrors_->clean_leftovers("app").empty());
}

TEST_F(MirrorTest, TrashKeepsARemovedRepoUntilItExpires) {
  std::string c1 = commit("one");
  fetch();
  bool raced = false;
  ASSERT_EQ(mirrors_->set_ref("app", main_, kZeroOid, c1, "t", &raced), "");
  EXPECT_EQ(mirrors_->trash("app", 1'000), "");
  EXPECT_FALSE(mirrors_->exists("app"));
  EXPECT_TRUE(mirrors_->list().empty());  // the trash is not listed
  EXPECT_TRUE(mirrors_->in_trash("app"));
  EXPECT_FALSE(mirrors_->in_trash("ap"));
  EXPECT_EQ(mirrors_->restore_from_trash("app"), "");
  EXPECT_EQ(ref(main_), c1);
  EXPECT_FALSE(mirrors_->in_trash("app"));
  EXPECT_NE(mirrors_->restore_from_trash("other"), "");
  EXPECT_EQ(mirrors_->trash("app", 2'000), "");
  EXPECT_EQ(mirrors_->expire_trash(2'500, 1'000), 0u);
  EXPECT_EQ(mirrors_->expire_trash(3'500, 1'000), 1u);
  EXPECT_FALSE(mirrors_->in_trash("app"));
}

TEST_F(MirrorTest, HeadFollowsAnExistingBranch) {
  std::string c1 = commit("one");
  fetch();
  bool raced = false;
  ASSERT_EQ(mirrors_->set_ref("app", "refs/heads/dev", kZeroOid, c1, "t", &raced), "");
  mirrors_->fix_head("app");
  auto dir = mirrors_->path_of("app").string();
  EXPECT_EQ(sh("git --git-dir=" + dir + " symbolic-ref HEAD"), "refs/heads/dev");
  ASSERT_EQ(mirrors_->set_ref("app", main_, kZeroOid, c1, "t", &raced), "");
  mirrors_->fix_head("app");  // dev exists: HEAD stays where it is
  EXPECT_EQ(sh("git --git-dir=" + dir + " symbolic-ref HEAD"), "refs/heads/dev");
}
