// Per-member replication limits: repos created and bytes fetched per hour, on an injected clock.
#include "member_quota.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

using namespace mesh::repl;

TEST(MemberQuota, NewReposPerHourRefillAndAreLoggedOnceAMinute) {
  std::vector<std::string> warnings;
  MemberQuota q({3, 1 << 20}, [&](const std::string& m) { warnings.push_back(m); });
  const std::int64_t t0 = 1'700'000'000'000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(q.new_repo("mesh:bob", t0));
  EXPECT_FALSE(q.new_repo("mesh:bob", t0));
  EXPECT_FALSE(q.new_repo("mesh:bob", t0 + 1000));
  EXPECT_TRUE(q.new_repo("mesh:carol", t0));  // another member's budget is its own
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("member mesh:bob is over [plugins.replication] "
                             "max_new_repos_per_hour = 3"),
            std::string::npos)
      << warnings[0];
  // A third of an hour later, one more (three an hour).
  EXPECT_TRUE(q.new_repo("mesh:bob", t0 + 20 * 60'000));
  EXPECT_FALSE(q.new_repo("mesh:bob", t0 + 20 * 60'000));
  EXPECT_EQ(warnings.size(), 2u);  // a minute after the first line
  EXPECT_EQ(q.json(), R"({"mesh:bob":{"repos_refused":3,"fetches_deferred":0}})");
}

TEST(MemberQuota, FetchBytesAreChargedAfterTheFactAndRefill) {
  std::vector<std::string> warnings;
  MemberQuota q({100, 1000}, [&](const std::string& m) { warnings.push_back(m); });
  const std::int64_t t0 = 1'700'000'000'000;
  EXPECT_TRUE(q.may_fetch("mesh:bob", t0));
  q.fetched("mesh:bob", 1500, t0);  // one fetch may overshoot
  EXPECT_FALSE(q.may_fetch("mesh:bob", t0));
  EXPECT_TRUE(q.may_fetch("mesh:carol", t0));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("max_fetch_bytes_per_hour = 1000"), std::string::npos);
  EXPECT_FALSE(q.may_fetch("mesh:bob", t0 + 30 * 60'000));  // 500 back: still at 0
  EXPECT_TRUE(q.may_fetch("mesh:bob", t0 + 40 * 60'000));
}

TEST(MemberQuota, ObjectsBytesCountsFilesUnderObjects) {
  auto dir = std::filesystem::temp_directory_path() / ("quota-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "objects" / "pack");
  std::ofstream(dir / "objects" / "pack" / "a.pack") << std::string(300, 'x');
  std::ofstream(dir / "objects" / "b") << std::string(20, 'y');
  std::ofstream(dir / "HEAD") << "ref: refs/heads/main\n";
  EXPECT_EQ(objects_bytes(dir), 320u);
  EXPECT_EQ(objects_bytes(dir / "missing"), 0u);
  std::filesystem::remove_all(dir);
}
