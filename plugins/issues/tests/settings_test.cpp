// [plugins.issues] settings: defaults, valid values, and a clear refusal (naming the key first,
// as the host's check_config hook wants) for anything else.
#include <gtest/gtest.h>

#include <stdexcept>

#include "limits.hpp"
#include "settings.hpp"

namespace mesh::issues {
namespace {

std::string refusal(const std::string& json) {
  try {
    Settings::parse(json);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Settings, DefaultsAndValues) {
  Settings d = Settings::parse("{}");
  EXPECT_TRUE(d.close_from_commits);
  EXPECT_EQ(d.max_commits_per_push, 1000u);
  EXPECT_EQ(d.reply_wait_ms, 5000u);
  Settings s =
      Settings::parse(R"({"close_from_commits":false,"max_commits_per_push":5,"reply_wait_ms":0})");
  EXPECT_FALSE(s.close_from_commits);
  EXPECT_EQ(s.max_commits_per_push, 5u);
  EXPECT_EQ(s.reply_wait_ms, 0u);
  EXPECT_EQ(Settings::parse("").reply_wait_ms, 5000u);
  EXPECT_EQ(d.member_limits.issues, kMaxIssuesPerMember);
  EXPECT_EQ(d.member_limits.comments, kMaxCommentsPerMember);
  EXPECT_EQ(d.member_limits.bytes, kMaxBytesPerMember);
  Settings m = Settings::parse(
      R"({"max_issues_per_member":3,"max_comments_per_member":4,"max_bytes_per_member":70000})");
  EXPECT_EQ(m.member_limits.issues, 3u);
  EXPECT_EQ(m.member_limits.comments, 4u);
  EXPECT_EQ(m.member_limits.bytes, 70000u);
}

TEST(Settings, RefusalsNameTheKey) {
  EXPECT_EQ(refusal(R"({"close_from_commits":"yes"})"),
            "close_from_commits: must be true or false");
  EXPECT_EQ(refusal(R"({"max_commits_per_push":0})"),
            "max_commits_per_push: must be an integer from 1 to 100000");
  EXPECT_EQ(refusal(R"({"max_commits_per_push":1.5})"),
            "max_commits_per_push: must be an integer from 1 to 100000");
  EXPECT_EQ(refusal(R"({"reply_wait_ms":-1})"),
            "reply_wait_ms: must be an integer from 0 to 60000");
  EXPECT_EQ(refusal(R"({"reply_wait_ms":60001})"),
            "reply_wait_ms: must be an integer from 0 to 60000");
  EXPECT_TRUE(refusal(R"({"reply_wait":5})").starts_with("reply_wait: unknown setting"));
  EXPECT_EQ(refusal(R"({"max_issues_per_member":0})"),
            "max_issues_per_member: must be an integer from 1 to 10000000");
  EXPECT_EQ(refusal(R"({"max_bytes_per_member":100})"),
            "max_bytes_per_member: must be an integer from 65536 to 68719476736");
  EXPECT_FALSE(refusal("[1]").empty());
  EXPECT_FALSE(refusal("{").empty());
}

}  // namespace
}  // namespace mesh::issues
