#include "rollback.hpp"

#include <gtest/gtest.h>

#include "test_util.hpp"

namespace mesh::updater {
namespace {
using test::TempDir;

SemVer v(const char* s) {
  return *parse_semver(s);
}

TEST(Rollback, AFreshNodeHasNoMarkAndTheRunningVersionCounts) {
  TempDir dir;
  auto h = load_highest_installed(dir / "updater" / "rollback.json");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_FALSE(h->has_value());
  EXPECT_TRUE(check_not_rollback(v("1.2.0"), std::nullopt, v("1.2.0"), false));
  EXPECT_TRUE(check_not_rollback(v("1.3.0"), std::nullopt, v("1.2.0"), false));
  auto st = check_not_rollback(v("1.1.9"), std::nullopt, v("1.2.0"), false);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::rollback);
  EXPECT_NE(st.error().message.find("--force"), std::string::npos);
}

TEST(Rollback, TheMarkOnlyRisesAndSurvivesReload) {
  TempDir dir;
  auto file = dir / "state" / "rollback.json";
  ASSERT_TRUE(record_installed(file, v("1.2.0")));
  ASSERT_TRUE(record_installed(file, v("1.4.0-rc.1")));
  ASSERT_TRUE(record_installed(file, v("1.3.0")));  // a forced downgrade keeps the mark
  auto h = load_highest_installed(file);
  ASSERT_TRUE(h && h->has_value());
  EXPECT_EQ((*h)->str(), "1.4.0-rc.1");
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".tmp"));
  // Running 1.3.0 after a forced downgrade: 1.3.5 is still older than the mark.
  auto st = check_not_rollback(v("1.3.5"), *h, v("1.3.0"), false);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::rollback);
  EXPECT_TRUE(check_not_rollback(v("1.3.5"), *h, v("1.3.0"), true));
  EXPECT_TRUE(check_not_rollback(v("1.4.0"), *h, v("1.3.0"), false));
}

TEST(Rollback, ACorruptStateFileStopsUpdatesInsteadOfFailingOpen) {
  TempDir dir;
  auto file = dir / "rollback.json";
  for (const char* bad : {"", "not json", "[]", "{\"highest\": 3}", "{\"highest\": \"v1.0\"}"}) {
    test::write_file(file, bad);
    auto h = load_highest_installed(file);
    ASSERT_FALSE(h) << bad;
    EXPECT_EQ(h.error().code, Errc::invalid);
    EXPECT_FALSE(record_installed(file, v("9.9.9"))) << "overwrote a corrupt mark";
  }
  test::write_file(file, std::string(kMaxRollbackStateBytes + 1, ' '));
  auto h = load_highest_installed(file);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, Errc::too_large);
}

TEST(Rollback, DecideSaysWhatToDo) {
  std::optional<SemVer> none;
  EXPECT_EQ(*decide(v("1.2.0"), v("1.2.0"), none, false), Decision::up_to_date);
  EXPECT_EQ(*decide(v("1.2.1"), v("1.2.0"), none, false), Decision::upgrade);
  EXPECT_EQ(*decide(v("1.2.0"), v("1.2.0-rc.2"), none, false), Decision::upgrade);
  auto refused = decide(v("1.1.0"), v("1.2.0"), none, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::rollback);
  EXPECT_EQ(*decide(v("1.1.0"), v("1.2.0"), none, true), Decision::downgrade);
  // After a forced downgrade to 1.1.0 (mark 1.2.0), staying on 1.1.0 is simply up to date.
  EXPECT_EQ(*decide(v("1.1.0"), v("1.1.0"), v("1.2.0"), false), Decision::up_to_date);
}

}  // namespace
}  // namespace mesh::updater
