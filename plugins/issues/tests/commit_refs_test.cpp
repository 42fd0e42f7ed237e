#include "commit_refs.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace mesh::issues;

namespace {
std::vector<std::string> refs(std::string_view message) {
  std::vector<std::string> out;
  for (const auto& r : closing_refs(message)) out.push_back((r.repo.empty() ? "" : r.repo) + r.ref);
  return out;
}
using V = std::vector<std::string>;
}  // namespace

TEST(IssuesCommitRefs, GithubKeywordsInAnyCase) {
  for (const char* kw : {"close", "closes", "closed", "fix", "fixes", "fixed", "resolve",
                         "resolves", "resolved", "FIXES", "Closes", "rEsOlVeD"}) {
    EXPECT_EQ(refs(std::string(kw) + " #12"), V{"#12"}) << kw;
  }
  auto r = closing_refs("Fixes: #7");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].keyword, "Fixes");
  EXPECT_EQ(r[0].ref, "#7");
}

TEST(IssuesCommitRefs, WhereTheyAppear) {
  EXPECT_EQ(refs("parser: handle empty input\n\nThis fixes #12 and closes #3.\nResolves #7"),
            (V{"#12", "#3", "#7"}));
  EXPECT_EQ(refs("(fixes #4)"), V{"#4"});
  EXPECT_EQ(refs("fix #5, fix #6"), (V{"#5", "#6"}));
  EXPECT_EQ(refs("fixes #5, #6"), V{"#5"}) << "each ref needs its keyword, as on GitHub";
  EXPECT_EQ(refs("fixes #5 fixes #5"), V{"#5"}) << "duplicates once";
  EXPECT_EQ(refs("fixes #12-3fa9c"), V{"#12-3fa9c"});
  EXPECT_EQ(refs("fixes other-repo#3"), V{"other-repo#3"});
  EXPECT_EQ(refs("fixes\t#9"), V{"#9"});
}

TEST(IssuesCommitRefs, WhatIsNotAClosingRef) {
  for (const char* text : {"prefixes #3", "fixes#3", "fixes 3", "fixes #", "fixes #abc",
                           "fixes #12abc", "see #12", "fixing #12", "unfixed #2", "fixes #0",
                           "fixes #01", "fix_es #1", "fixes ../x#3", "fixes #12345678901"}) {
    EXPECT_TRUE(refs(text).empty()) << text;
  }
  // "#12-xyz": the suffix is no id prefix, so the ref is "#12".
  EXPECT_EQ(refs("fixes #12-xyz"), V{"#12"});
  EXPECT_EQ(refs("fixes #12-3fa"), V{"#12"}) << "a suffix needs 4 hex digits";
}

TEST(IssuesCommitRefs, Bounded) {
  std::string many;
  for (int i = 1; i <= 100; ++i) many += "fixes #" + std::to_string(i) + "\n";
  EXPECT_EQ(closing_refs(many).size(), kMaxRefs);
  std::string late(kMaxMessage, 'x');
  late += " fixes #1";
  EXPECT_TRUE(closing_refs(late).empty()) << "only the first 64 KiB are read";
}
