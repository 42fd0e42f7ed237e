// Server-side SVG: exact shapes from numbers, bounds, and strict parsing of the helper input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

#include "mesh/web/svg.hpp"

using namespace mesh::web;

namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

}  // namespace

TEST(WebSvg, SparklineBarsScaleToThePeak) {
  std::vector<std::uint32_t> days{0, 1, 4, 2};
  auto svg = sparkline_svg(days);
  EXPECT_EQ(svg,
            "<svg class=\"sparkline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"16\" "
            "height=\"24\" viewBox=\"0 0 16 24\" role=\"img\" aria-label=\"7 commits in 4 days\">"
            "<title>7 commits in 4 days</title>"
            "<rect class=\"zero\" x=\"0\" y=\"23\" width=\"3\" height=\"1\"/>"
            "<rect class=\"bar\" x=\"4\" y=\"18\" width=\"3\" height=\"6\"/>"
            "<rect class=\"bar\" x=\"8\" y=\"0\" width=\"3\" height=\"24\"/>"
            "<rect class=\"bar\" x=\"12\" y=\"12\" width=\"3\" height=\"12\"/>"
            "</svg>");
}

TEST(WebSvg, SparklineEdgeCases) {
  auto empty = sparkline_svg({});
  EXPECT_NE(empty.find("0 commits in 0 days"), std::string::npos);
  EXPECT_EQ(count(empty, "<rect"), 0u);
  std::vector<std::uint32_t> one{1};
  EXPECT_NE(sparkline_svg(one).find("1 commit in 1 day"), std::string::npos);
  // A tiny day next to a huge one is still visible (2 px), and nothing overflows the box.
  std::vector<std::uint32_t> skew{1, 1000000000};
  auto s = sparkline_svg(skew);
  EXPECT_NE(s.find("y=\"22\" width=\"3\" height=\"2\""), std::string::npos) << s;
  EXPECT_NE(s.find("y=\"0\" width=\"3\" height=\"24\""), std::string::npos) << s;
  // At most 366 days: the newest are kept.
  std::vector<std::uint32_t> many(400, 0);
  many.back() = 5;
  auto m = sparkline_svg(many);
  EXPECT_EQ(count(m, "<rect"), 366u);
  EXPECT_NE(m.find("5 commits in 366 days"), std::string::npos);
  // Only numbers and fixed words: no character that would need escaping.
  // (Not std::regex: libstdc++ matches `*` by recursion, one frame per character, which
  // overflowed the stack on these 366 bars under ThreadSanitizer.)
  const auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view(" <>/=\":.,-").find(c) != std::string_view::npos;
  };
  EXPECT_TRUE(std::all_of(m.begin(), m.end(), allowed)) << m;
}

TEST(WebSvg, PeersIndicatorDotsUpFirst) {
  auto svg = peers_svg(2, 3);
  EXPECT_EQ(svg,
            "<svg class=\"peers-indicator\" xmlns=\"http://www.w3.org/2000/svg\" width=\"30\" "
            "height=\"10\" viewBox=\"0 0 30 10\" role=\"img\" aria-label=\"2 of 3 peers up\">"
            "<title>2 of 3 peers up</title>"
            "<circle class=\"up\" cx=\"5\" cy=\"5\" r=\"4\"/>"
            "<circle class=\"up\" cx=\"15\" cy=\"5\" r=\"4\"/>"
            "<circle class=\"down\" cx=\"25\" cy=\"5\" r=\"4\"/>"
            "</svg>");
  auto none = peers_svg(0, 0);
  EXPECT_NE(none.find("no peers"), std::string::npos);
  EXPECT_NE(none.find("class=\"none\""), std::string::npos);
  // up is clamped to total; more than 50 peers draw 50 dots and a plus.
  EXPECT_EQ(count(peers_svg(9, 4), "class=\"up\""), 4u);
  auto big = peers_svg(60, 80);
  EXPECT_EQ(count(big, "<circle"), 50u);
  EXPECT_EQ(count(big, "class=\"up\""), 50u);
  EXPECT_NE(big.find("class=\"more\""), std::string::npos);
  EXPECT_NE(big.find("60 of 80 peers up"), std::string::npos);
}

TEST(WebSvg, ParsingAcceptsOnlyNumbers) {
  EXPECT_EQ(*parse_counts("3, 0 ,5"), (std::vector<std::uint32_t>{3, 0, 5}));
  EXPECT_TRUE(parse_counts("")->empty());
  for (const char* bad : {"1,,2", "-1", "1;2", "0x10", "1e3", "<svg>", "1,2,", "99999999999"}) {
    EXPECT_FALSE(parse_counts(bad)) << bad;
  }
  std::string many;
  for (int i = 0; i < 367; ++i) many += (i ? ",1" : "1");
  EXPECT_FALSE(parse_counts(many));
  EXPECT_EQ(*parse_up_total("2/3"), (std::pair<std::size_t, std::size_t>(2, 3)));
  EXPECT_EQ(*parse_up_total(" 0 / 0 "), (std::pair<std::size_t, std::size_t>(0, 0)));
  for (const char* bad : {"3/2", "2", "a/b", "1/2/3", "1/100001", "/3"}) {
    EXPECT_FALSE(parse_up_total(bad)) << bad;
  }
}
