#include "validate.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "limits.hpp"

using namespace mesh::issues;

namespace {
std::string reason(const Check& c) {
  return c ? c->reason : "ok";
}
}  // namespace

TEST(IssuesValidate, Utf8) {
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9b"));
  for (const char* bad :
       {"\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "a\x80"}) {
    EXPECT_FALSE(valid_utf8(bad)) << bad;
  }
}

TEST(IssuesValidate, RepoNames) {
  for (const char* ok : {"my-app", "a", "A.b_c-1"}) EXPECT_FALSE(check_repo(ok)) << ok;
  EXPECT_FALSE(check_repo(std::string(100, 'a')));
  for (const std::string& bad : std::initializer_list<std::string>{
           "", "-x", ".x", "a/b", "a..b", "x.git", "x.lock", "a b", std::string(101, 'a')}) {
    EXPECT_EQ(reason(check_repo(bad)), "repo") << bad;
  }
}

TEST(IssuesValidate, Titles) {
  EXPECT_FALSE(check_title("Crash on start"));
  EXPECT_FALSE(check_title(std::string(kMaxTitle, 'x')));
  EXPECT_FALSE(check_title("\xe2\x9c\x85 done"));
  auto too_long = check_title(std::string(kMaxTitle + 1, 'x'));
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->message, "the title is 257 bytes; at most 256 are allowed");
  EXPECT_EQ(check_title("")->message, "the title is empty");
  EXPECT_EQ(check_title("   ")->message, "the title is only spaces");
  EXPECT_EQ(check_title("a\nb")->message, "the title contains a control character");
  EXPECT_EQ(check_title("\x1b[31mred")->message, "the title contains a control character");
  EXPECT_EQ(check_title("c1 \xc2\x9b")->message, "the title contains a control character");
  EXPECT_EQ(check_title("\xe2\x80\xaetxt.exe")->message,
            "the title contains a bidirectional override character");
  EXPECT_EQ(check_title("bad \xc3")->message, "the title is not valid UTF-8");
}

TEST(IssuesValidate, Bodies) {
  EXPECT_FALSE(check_body("", "body"));
  EXPECT_FALSE(check_body("# Title\n\n\tcode\r\n\xe2\x80\xae rtl is fine here", "body"));
  EXPECT_FALSE(check_body(std::string(kMaxBody, 'x'), "body"));
  auto big = check_body(std::string(kMaxBody + 1, 'x'), "comment");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->reason, "comment");
  EXPECT_EQ(big->message, "the comment is 61441 bytes; at most 61440 (60 KiB) are allowed");
  EXPECT_EQ(reason(check_body("esc \x1b]0;pwned\x07", "body")), "body");
  EXPECT_EQ(reason(check_body(std::string("nul \0 byte", 10), "body")), "body");
}

TEST(IssuesValidate, Labels) {
  for (const char* ok :
       {"bug", "good first issue", "P1", "prio:high", "\xf0\x9f\x90\x9b bug", "a+b", "x-"}) {
    EXPECT_FALSE(check_label(ok)) << ok;
  }
  EXPECT_FALSE(check_label(std::string(kMaxLabel, 'l')));
  EXPECT_EQ(check_label(std::string(kMaxLabel + 1, 'l'))->message,
            "a label is 65 bytes; at most 64 are allowed");
  EXPECT_EQ(check_label("")->message, "a label is empty");
  EXPECT_EQ(check_label(" bug")->message, "a label starts or ends with a space");
  EXPECT_EQ(check_label("+bug")->message, "a label must not start with '+' or '-'");
  EXPECT_EQ(check_label("-bug")->message, "a label must not start with '+' or '-'");
  EXPECT_EQ(check_label("a,b")->message, "a label must not contain ','");
  EXPECT_EQ(check_label("tab\there")->message, "a label contains a control character");
  EXPECT_EQ(check_label("\xe2\x81\xa6x")->message,
            "a label contains a bidirectional override character");
}

TEST(IssuesValidate, AssigneesAndIds) {
  for (const char* ok : {"alice", "mesh:abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst",
                         "bob@laptop", "c.d_e-f"}) {
    EXPECT_FALSE(check_assignee(ok)) << ok;
  }
  for (const std::string& bad : std::initializer_list<std::string>{
           "", "-x", "a b", "x/y", "\xc3\xa9", std::string(kMaxAssignee + 1, 'a')}) {
    EXPECT_EQ(reason(check_assignee(bad)), "assignee") << bad;
  }
  EXPECT_TRUE(valid_full_id(std::string(32, 'a')));
  EXPECT_FALSE(valid_full_id(std::string(32, 'A')));
  EXPECT_FALSE(valid_full_id(std::string(31, 'a')));
  EXPECT_TRUE(valid_commit_id(std::string(40, '0')));
  EXPECT_TRUE(valid_commit_id(std::string(64, 'f')));
  EXPECT_FALSE(valid_commit_id(std::string(41, '0')));
  EXPECT_FALSE(valid_commit_id(std::string(40, 'g')));
}
