#include "settings.hpp"

#include <gtest/gtest.h>

using namespace mesh::repl;

TEST(Settings, DefaultsForAnEmptyTable) {
  std::string err;
  auto s = parse_settings("{}", &err);
  ASSERT_TRUE(s) << err;
  EXPECT_EQ(s->push_wait.count(), 3000);
  EXPECT_EQ(s->max_git_processes, 8u);
  EXPECT_EQ(s->max_push_bytes, std::uint64_t{2} << 30);
  EXPECT_EQ(s->repos_dir, "");
  EXPECT_TRUE(parse_settings("", &err));
}

TEST(Settings, ValuesAreTaken) {
  std::string err;
  auto s = parse_settings(
      R"({"push_wait_ms":0,"max_git_processes":64,"max_push_bytes":1048576,"repos_dir":"/srv/r"})",
      &err);
  ASSERT_TRUE(s) << err;
  EXPECT_EQ(s->push_wait.count(), 0);
  EXPECT_EQ(s->max_git_processes, 64u);
  EXPECT_EQ(s->max_push_bytes, 1048576u);
  EXPECT_EQ(s->repos_dir, "/srv/r");
}

TEST(Settings, ErrorsNameTheKey) {
  struct Case {
    const char* json;
    const char* needle;
  } cases[] = {
      {R"({"max_push_bytes":-1})", "max_push_bytes must be an integer from 1 to 68719476736"},
      {R"({"max_push_bytes":0})", "max_push_bytes"},
      {R"({"max_push_bytes":"2G"})", "max_push_bytes"},
      {R"({"max_push_bytes":1.5})", "max_push_bytes"},
      {R"({"push_wait_ms":60001})", "push_wait_ms must be an integer from 0 to 60000"},
      {R"({"max_git_processes":0})", "max_git_processes"},
      {R"({"max_git_processes":18446744073709551615})", "max_git_processes"},
      {R"({"repos_dir":""})", "repos_dir must be an absolute path"},
      {R"({"repos_dir":"rel/dir"})", "repos_dir"},
      {R"({"repos_dir":7})", "repos_dir"},
      {R"({"push_wiat_ms":5})", "has no setting 'push_wiat_ms'"},
      {R"([1,2])", "is not a table"},
      {R"({"x":)", "is not a table"},
  };
  for (const auto& c : cases) {
    std::string err;
    EXPECT_FALSE(parse_settings(c.json, &err)) << c.json;
    EXPECT_NE(err.find(c.needle), std::string::npos) << c.json << " -> " << err;
    EXPECT_NE(err.find("[plugins.replication]"), std::string::npos) << err;
  }
}

TEST(Settings, PerMemberLimits) {
  std::string err;
  auto d = parse_settings("{}", &err);
  ASSERT_TRUE(d) << err;
  EXPECT_EQ(d->max_new_repos_per_hour, 100u);
  EXPECT_EQ(d->max_fetch_bytes_per_hour, std::uint64_t{16} << 30);
  auto s =
      parse_settings(R"({"max_new_repos_per_hour":3,"max_fetch_bytes_per_hour":1048576})", &err);
  ASSERT_TRUE(s) << err;
  EXPECT_EQ(s->max_new_repos_per_hour, 3u);
  EXPECT_EQ(s->max_fetch_bytes_per_hour, 1048576u);
  EXPECT_FALSE(parse_settings(R"({"max_new_repos_per_hour":0})", &err));
  EXPECT_NE(err.find("max_new_repos_per_hour must be an integer from 1 to 1000000"),
            std::string::npos)
      << err;
  EXPECT_FALSE(parse_settings(R"({"max_fetch_bytes_per_hour":1000})", &err));
  EXPECT_NE(err.find("max_fetch_bytes_per_hour"), std::string::npos) << err;
}

// check_config's form: "<key>: <rule>", which the daemon's reload error locates by the key.
TEST(Settings, CheckSettingsNamesTheKeyFirst) {
  EXPECT_EQ(check_settings("{}"), "");
  EXPECT_EQ(check_settings(R"({"max_push_bytes":-1})"),
            "max_push_bytes: must be an integer from 1 to 68719476736");
  EXPECT_EQ(check_settings(R"({"max_new_repos_per_hour":0})"),
            "max_new_repos_per_hour: must be an integer from 1 to 1000000");
  EXPECT_EQ(check_settings(R"({"repos_dir":"rel"})"), "repos_dir: must be an absolute path");
  auto unknown = check_settings(R"({"push_wiat_ms":5})");
  EXPECT_TRUE(unknown.starts_with("push_wiat_ms: no such setting (known: push_wait_ms")) << unknown;
  EXPECT_EQ(check_settings("[1]"), "is not a table");
}
