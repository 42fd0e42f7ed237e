#include "duration.hpp"

#include <gtest/gtest.h>

#include "limits.hpp"

using namespace mesh::ci;

TEST(CiDuration, Parses) {
  constexpr auto max = limits::kMaxTimeoutMs;
  EXPECT_EQ(*parse_duration("90s", max), 90'000u);
  EXPECT_EQ(*parse_duration("10m", max), 600'000u);
  EXPECT_EQ(*parse_duration("1h30m", max), 5'400'000u);
  EXPECT_EQ(*parse_duration("1h2m3s", max), 3'723'000u);
  EXPECT_EQ(*parse_duration("6h", max), max);
  EXPECT_EQ(*parse_duration("0h1s", max), 1'000u);
  EXPECT_EQ(*parse_duration("120m", max), 7'200'000u);
}

TEST(CiDuration, Refuses) {
  constexpr auto max = limits::kMaxTimeoutMs;
  for (const char* bad : {"", "10", "m", "10x", "1m1h", "1h1h", "1 h", " 1h", "1h ", "-1s", "0s",
                          "0h0m", "6h1s", "7h", "99999999h", "1.5h", "1d"}) {
    auto r = parse_duration(bad, max);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find("bad duration"), std::string::npos);
    }
  }
  auto r = parse_duration("7h", max);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("maximum of 6h"), std::string::npos) << r.error().message;
}

TEST(CiDuration, Formats) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(90'000), "1m30s");
  EXPECT_EQ(format_duration(3'600'000), "1h");
  EXPECT_EQ(format_duration(5'400'000), "1h30m");
  EXPECT_EQ(format_duration(3'723'000), "1h2m3s");
}
