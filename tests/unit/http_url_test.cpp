// Query, form and path decoding (Boost.URL underneath): values, limits and refusals.
#include <gtest/gtest.h>

#include "mesh/http/url.hpp"

using namespace mesh;
using namespace mesh::http;

TEST(HttpUrl, QueryFieldsAreDecodedInOrder) {
  auto q = parse_query("service=git-upload-pack&b=x%20y&b=z&plus=a+b&empty=&flag");
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(first_value(*q, "service"), "git-upload-pack");
  auto [lo, hi] = q->equal_range("b");
  ASSERT_EQ(std::distance(lo, hi), 2);
  EXPECT_EQ(lo->second, "x y");
  EXPECT_EQ(std::next(lo)->second, "z");
  EXPECT_EQ(first_value(*q, "plus"), "a b");
  EXPECT_EQ(first_value(*q, "empty"), "");
  EXPECT_EQ(first_value(*q, "flag"), "");
  EXPECT_FALSE(first_value(*q, "missing"));
  EXPECT_TRUE(parse_query("")->empty());
  EXPECT_EQ(parse_query("a=1&&b=2")->size(), 2u);
  EXPECT_EQ(first_value(*parse_query("k%3Dv=a%26b"), "k=v"), "a&b");
}

TEST(HttpUrl, FormBodiesUseTheSameGrammar) {
  auto f = parse_form("csrf=abc123&title=Hello+world%21&body=line1%0D%0Aline2");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(first_value(*f, "csrf"), "abc123");
  EXPECT_EQ(first_value(*f, "title"), "Hello world!");
  EXPECT_EQ(first_value(*f, "body"), "line1\r\nline2");
}

TEST(HttpUrl, MalformedInputIsRefused) {
  for (const char* bad : {"a=%zz", "a=%4", "a=%", "%GG=1", "a=1&b=%0"}) {
    auto q = parse_query(bad);
    ASSERT_FALSE(q) << bad;
    EXPECT_EQ(q.error().code, Errc::invalid) << bad;
  }
  EXPECT_FALSE(parse_form("a=%00"));  // no NUL in any decoded value
  EXPECT_FALSE(parse_form("a%00=1"));
}

TEST(HttpUrl, LimitsAreEnforced) {
  std::string many;
  for (int i = 0; i < 300; ++i) many += "k" + std::to_string(i) + "=v&";
  auto q = parse_query(many);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, Errc::limit);
  EXPECT_TRUE(parse_query(many, DecodeLimits{.max_bytes = 64 * 1024, .max_params = 300}));
  auto big = parse_form(std::string(70 * 1024, 'a'));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::limit);
  EXPECT_TRUE(parse_form(std::string(1000, 'a'), DecodeLimits{.max_bytes = 1000}));
}

TEST(HttpUrl, PathTextDecoding) {
  EXPECT_EQ(*decode_path_text("a%2Fb"), "a/b");
  EXPECT_EQ(*decode_path_text("caf%C3%A9"), "café");
  EXPECT_EQ(*decode_path_text("a+b"), "a+b");
  EXPECT_EQ(*decode_path_text("plain"), "plain");
  EXPECT_FALSE(decode_path_text("%"));
  EXPECT_FALSE(decode_path_text("a%2"));
  EXPECT_FALSE(decode_path_text("%x1"));
  EXPECT_FALSE(decode_path_text("a%00"));
  auto big = decode_path_text(std::string(9000, 'a'));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::limit);
}
