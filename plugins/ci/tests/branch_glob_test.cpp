#include "branch_glob.hpp"

#include <gtest/gtest.h>

using namespace mesh::ci;

TEST(CiBranchGlob, Star) {
  EXPECT_TRUE(glob_match("main", "main"));
  EXPECT_FALSE(glob_match("main", "main2"));
  EXPECT_FALSE(glob_match("main", "mai"));
  EXPECT_TRUE(glob_match("feat-*", "feat-x"));
  EXPECT_TRUE(glob_match("feat-*", "feat-"));
  EXPECT_FALSE(glob_match("feat-*", "feat-x/y"));  // * stays within a segment
  EXPECT_TRUE(glob_match("*", "main"));
  EXPECT_FALSE(glob_match("*", "a/b"));
  EXPECT_TRUE(glob_match("*/*", "a/b"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
  EXPECT_TRUE(glob_match("v?", "v1"));
  EXPECT_FALSE(glob_match("v?", "v12"));
  EXPECT_FALSE(glob_match("a?b", "a/b"));
}

TEST(CiBranchGlob, DoubleStar) {
  EXPECT_TRUE(glob_match("release/**", "release/1.2"));
  EXPECT_TRUE(glob_match("release/**", "release/1/2/3"));
  EXPECT_FALSE(glob_match("release/**", "release"));
  EXPECT_FALSE(glob_match("release/**", "releases/1"));
  EXPECT_TRUE(glob_match("**", "a/b/c"));
  EXPECT_TRUE(glob_match("**", "main"));
  EXPECT_TRUE(glob_match("a/**/b", "a/b"));  // **/ also matches nothing
  EXPECT_TRUE(glob_match("a/**/b", "a/x/b"));
  EXPECT_TRUE(glob_match("a/**/b", "a/x/y/b"));
  EXPECT_FALSE(glob_match("a/**/b", "a/xb"));
  EXPECT_TRUE(glob_match("**/fix", "fix"));
  EXPECT_TRUE(glob_match("**/fix", "team/fix"));
  EXPECT_FALSE(glob_match("**/fix", "teamfix"));
  EXPECT_TRUE(glob_match("rel**", "release/1"));
  // Backtracking stays polynomial.
  std::string name(200, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*b", name));
  EXPECT_FALSE(glob_match("**a**a**a**a**a**a**b", name));
}

TEST(CiBranchGlob, FilterOrderLikeGitHub) {
  auto f = BranchFilter::make({"main", "release/**", "!release/old-*", "release/old-keep"});
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_TRUE(f->matches_branch("main"));
  EXPECT_TRUE(f->matches_branch("release/1.2"));
  EXPECT_FALSE(f->matches_branch("release/old-1"));
  EXPECT_TRUE(f->matches_branch("release/old-keep"));  // a later pattern takes it back in
  EXPECT_FALSE(f->matches_branch("feature/x"));
  // Exclusion last wins over an earlier inclusion.
  auto g = BranchFilter::make({"**", "!wip/**"});
  ASSERT_TRUE(g);
  EXPECT_TRUE(g->matches_branch("a/b"));
  EXPECT_FALSE(g->matches_branch("wip/x"));
}

TEST(CiBranchGlob, TagsAreNotBranches) {
  auto f = BranchFilter::make({"**"});
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->matches_ref("refs/heads/main"));
  EXPECT_FALSE(f->matches_ref("refs/tags/v1.0"));
  EXPECT_FALSE(f->matches_ref("main"));
  BranchFilter all;
  EXPECT_TRUE(all.all_branches());
  EXPECT_TRUE(all.matches_ref("refs/heads/any/thing"));
  EXPECT_FALSE(all.matches_ref("refs/tags/v1.0"));
  auto none = BranchFilter::make({});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->matches_ref("refs/heads/main"));
}

TEST(CiBranchGlob, BadPatterns) {
  for (const char* bad : {"", "!", "a b", "[ab]", "a\\b", "a!b", "***", "x\t"}) {
    EXPECT_FALSE(check_branch_pattern(bad)) << bad;
  }
  EXPECT_FALSE(check_branch_pattern(std::string(256, 'a')));
  EXPECT_TRUE(check_branch_pattern(std::string(255, 'a')));
  auto only_neg = BranchFilter::make({"!main", "!dev"});
  ASSERT_FALSE(only_neg);
  EXPECT_NE(only_neg.error().message.find("exclusions"), std::string::npos);
  EXPECT_FALSE(BranchFilter::make(std::vector<std::string>(65, "x")));
}
