#include "semver.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace mesh::updater {
namespace {

SemVer v(const char* s) {
  auto r = parse_semver(s);
  EXPECT_TRUE(r) << s << ": " << (r ? "" : r.error().message);
  return r ? *r : SemVer{};
}

TEST(SemVer, ParsesAndPrintsCanonically) {
  auto a = v("1.2.3");
  EXPECT_EQ(a.major, 1u);
  EXPECT_EQ(a.minor, 2u);
  EXPECT_EQ(a.patch, 3u);
  EXPECT_FALSE(a.prerelease());
  auto b = v("10.20.30-rc.1+build.5");
  EXPECT_EQ(b.pre, (std::vector<std::string>{"rc", "1"}));
  EXPECT_EQ(b.build, "build.5");
  EXPECT_EQ(b.str(), "10.20.30-rc.1+build.5");
  EXPECT_EQ(v("1.0.0-alpha-1.x-y").str(), "1.0.0-alpha-1.x-y");
  EXPECT_EQ(v("18446744073709551615.0.0").major, 18446744073709551615ull);
}

TEST(SemVer, RefusesWhatIsNotSemver) {
  for (const char* bad : {"",
                          "1",
                          "1.2",
                          "1.2.3.4",
                          "v1.2.3",
                          "01.2.3",
                          "1.02.3",
                          "1.2.03",
                          "1.2.3-",
                          "1.2.3-01",
                          "1.2.3-rc..1",
                          "1.2.3+",
                          "1.2.3+a..b",
                          "1.2.3-rc_1",
                          "1.2.3 ",
                          " 1.2.3",
                          "1.2.-3",
                          "a.b.c",
                          "18446744073709551616.0.0",
                          "1.2.3-é"}) {
    auto r = parse_semver(bad);
    EXPECT_FALSE(r) << "accepted '" << bad << "'";
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::invalid);
    }
  }
  std::string long_version = "1.2.3-" + std::string(60, 'a');
  EXPECT_FALSE(parse_semver(long_version));
}

TEST(SemVer, TagsMayCarryAV) {
  auto t = parse_tag("v1.4.0");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->str(), "1.4.0");
  EXPECT_TRUE(parse_tag("1.4.0"));
  EXPECT_FALSE(parse_tag("vv1.4.0"));
  EXPECT_FALSE(parse_tag("V1.4.0"));
}

TEST(SemVer, PrecedenceFollowsTheSpec) {
  // semver.org §11's own example, in order.
  std::vector<std::string> ordered = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                                      "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                                      "1.0.0-rc.1",  "1.0.0",         "1.0.1",
                                      "1.1.0-rc.1",  "1.1.0",         "1.10.0",
                                      "2.0.0",       "10.0.0"};
  for (std::size_t i = 0; i + 1 < ordered.size(); ++i) {
    EXPECT_LT(compare(v(ordered[i].c_str()), v(ordered[i + 1].c_str())), 0)
        << ordered[i] << " < " << ordered[i + 1];
    EXPECT_GT(compare(v(ordered[i + 1].c_str()), v(ordered[i].c_str())), 0);
  }
  // A shuffled copy sorts back into the same order.
  std::vector<SemVer> shuffled;
  for (const auto& s : ordered) shuffled.push_back(v(s.c_str()));
  std::mt19937 rng(42);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::sort(shuffled.begin(), shuffled.end());
  for (std::size_t i = 0; i < ordered.size(); ++i) EXPECT_EQ(shuffled[i].str(), ordered[i]);
}

TEST(SemVer, BuildMetadataDoesNotOrder) {
  EXPECT_EQ(compare(v("1.0.0+a"), v("1.0.0+b")), 0);
  EXPECT_TRUE(same_precedence(v("1.0.0"), v("1.0.0+20240101")));
  EXPECT_LT(compare(v("1.0.0-rc.1+z"), v("1.0.0+a")), 0);
}

TEST(SemVer, HugeNumericPreReleaseIdentifiersCompareWithoutOverflow) {
  EXPECT_LT(compare(v("1.0.0-99999999999999999999998"), v("1.0.0-99999999999999999999999")), 0);
  EXPECT_LT(compare(v("1.0.0-9"), v("1.0.0-10")), 0);
  EXPECT_LT(compare(v("1.0.0-999"), v("1.0.0-a")), 0);  // numeric before alphanumeric
}

}  // namespace
}  // namespace mesh::updater
