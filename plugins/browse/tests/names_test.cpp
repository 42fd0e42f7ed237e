// What a URL may carry (repo names, refs, object ids, paths) and the encodings.
#include <gtest/gtest.h>

#include "limits.hpp"
#include "names.hpp"

namespace mesh::browse {
namespace {

TEST(Names, RepoNamesFollowTheReplicationRule) {
  for (const char* ok : {"app", "my-app", "a.b_c", "A1"}) EXPECT_TRUE(valid_repo_name(ok)) << ok;
  EXPECT_TRUE(valid_repo_name(std::string(100, 'x')));
  for (const char* bad :
       {"", ".hidden", "-x", "a/b", "a..b", "app.git", "x.lock", "<script>", "a b", "ä"})
    EXPECT_FALSE(valid_repo_name(bad)) << bad;
  EXPECT_FALSE(valid_repo_name(std::string(101, 'x')));
}

TEST(Names, RefsRefuseRevisionSyntax) {
  for (const char* ok : {"main", "feature/x", "v1.0", "<svg/onload=alert(1)>", "a'b\"c"})
    EXPECT_TRUE(plausible_ref(ok)) << ok;
  for (const char* bad :
       {"", "main~1", "main^", "HEAD@{1}", ":/regex", "a..b", "a b", "x*", "a[b", "a\\b", "a?b"})
    EXPECT_FALSE(plausible_ref(bad)) << bad;
  EXPECT_FALSE(plausible_ref(std::string(kMaxRefName + 1, 'a')));
  EXPECT_FALSE(plausible_ref(std::string("a\0b", 3)));
}

TEST(Names, HexIds) {
  EXPECT_TRUE(valid_hex_oid("abcd"));
  EXPECT_TRUE(valid_hex_oid(std::string(40, 'F')));
  EXPECT_FALSE(valid_hex_oid("abc"));
  EXPECT_FALSE(valid_hex_oid(std::string(41, 'a')));
  EXPECT_FALSE(valid_hex_oid("abcg"));
}

TEST(Names, PathsSplitIntoSafeSegments) {
  std::string why;
  auto root = split_repo_path("", &why);
  ASSERT_TRUE(root);
  EXPECT_TRUE(root->empty());
  auto p = split_repo_path("/docs/a b/c.md/", &why);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, (std::vector<std::string>{"docs", "a b", "c.md"}));
  EXPECT_EQ(join_path(*p, 2), "docs/a b");
  for (const char* bad : {"a//b", "a/./b", "../etc/passwd", "a/.."}) {
    EXPECT_FALSE(split_repo_path(bad, &why)) << bad;
    EXPECT_FALSE(why.empty());
  }
  EXPECT_FALSE(split_repo_path(std::string("a\0b", 3), &why));
  EXPECT_FALSE(split_repo_path(std::string(kMaxPathBytes + 1, 'a'), &why));
  EXPECT_NE(why.find("4096"), std::string::npos);
  EXPECT_FALSE(split_repo_path(std::string(kMaxSegmentBytes + 1, 'a'), &why));
  std::string deep;
  for (std::size_t i = 0; i <= kMaxPathSegments; ++i) deep += "a/";
  EXPECT_FALSE(split_repo_path(deep, &why));
}

TEST(Names, UrlSegmentsEncodeEverythingButUnreserved) {
  EXPECT_EQ(url_segment("feature/x"), "feature%2Fx");
  EXPECT_EQ(url_segment("a b#c?d%"), "a%20b%23c%3Fd%25");
  EXPECT_EQ(url_segment("<script>\"'"), "%3Cscript%3E%22%27");
  EXPECT_EQ(url_segment("Az09-._~"), "Az09-._~");
  EXPECT_EQ(url_path({"docs", "a b", "ä"}, 3), "docs/a%20b/%C3%A4");
  EXPECT_EQ(url_path({"docs", "x"}, 1), "docs");
}

TEST(Names, Utf8IsRepaired) {
  EXPECT_EQ(valid_utf8("plain ä €"), "plain ä €");
  EXPECT_EQ(valid_utf8("a\xff"
                       "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(valid_utf8(std::string("a\0b", 3)),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(valid_utf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");                  // overlong
  EXPECT_EQ(valid_utf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(valid_utf8("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");                  // truncated
  // A prefix never splits a character.
  EXPECT_EQ(valid_utf8_prefix("aä", 2), "a");
  EXPECT_EQ(valid_utf8_prefix("aä", 3), "aä");
}

}  // namespace
}  // namespace mesh::browse
