#include "names.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

using namespace mesh::repl;

TEST(ReplNames, RepoNames) {
  for (const char* ok : {"my-app", "a", "A.b_c-1", "x2"}) EXPECT_TRUE(valid_repo_name(ok)) << ok;
  for (const std::string& bad : std::initializer_list<std::string>{
           "", "../x", "-x", ".git", "a/b", ".hidden", "x.git", "x.lock", "a..b", "a b", "a\nb",
           "é", std::string(300, 'a'), std::string(101, 'a')}) {
    EXPECT_FALSE(valid_repo_name(bad)) << bad;
  }
  EXPECT_TRUE(valid_repo_name(std::string(100, 'a')));
}

TEST(ReplNames, RefNames) {
  for (const char* ok : {"refs/heads/main", "refs/tags/v1.0", "refs/heads/feature/x-y"}) {
    EXPECT_TRUE(valid_ref_name(ok)) << ok;
  }
  for (const std::string& bad : std::initializer_list<std::string>{
           "main", "refs/heads/", "refs/remotes/o/x", "refs/mesh/diverged/a/refs/heads/main",
           "refs/heads/a..b", "refs/heads/a b", "refs/heads/--upload-pack=touch x",
           "refs/heads/--upload-pack=x", "refs/tags/-x", "refs/heads/.x", "refs/heads/x.lock",
           "refs/heads/x/", "refs/heads/a//b", "refs/heads/a@{1}", "refs/heads/a:b",
           "refs/heads/a\x01", "refs/heads/" + std::string(250, 'a')}) {
    EXPECT_FALSE(valid_ref_name(bad)) << bad;
  }
}

TEST(ReplNames, GitPaths) {
  auto p = parse_git_path("/my-app.git/info/refs");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->repo, "my-app");
  EXPECT_EQ(p->what, GitPath::info_refs);
  p = parse_git_path("/my-app/git-receive-pack");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->what, GitPath::receive_pack);
  EXPECT_EQ(parse_git_path("/x.git/git-upload-pack")->what, GitPath::upload_pack);
  for (const char* bad :
       {"/../x.git/info/refs", "/-x.git/info/refs", "/.git/info/refs", "/a/b.git/info/refs",
        "/x.git/objects/info/packs", "/x.git", "x.git/info/refs", "/.git.git/info/refs"}) {
    EXPECT_FALSE(parse_git_path(bad)) << bad;
  }
}
