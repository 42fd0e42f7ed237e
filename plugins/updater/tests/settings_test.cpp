// [plugins.updater] validation (settings.hpp), which is also the plugin's check_config.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <stdexcept>

#include "settings.hpp"
#include "test_util.hpp"

namespace mesh::updater {
namespace {

std::string error_of(const std::string& json) {
  try {
    (void)parse_settings(json);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Settings, DefaultsAreTheProjectsSourceAndNoKey) {
  Settings s = parse_settings("{}");
  EXPECT_EQ(s.source, kDefaultSource);
  EXPECT_FALSE(s.release_key);
  EXPECT_EQ(s.max_archive_bytes, 512ull << 20);
  EXPECT_EQ(s.attempts, 4);
  EXPECT_TRUE(s.serve);
  EXPECT_NE(no_key_message().find("release_key"), std::string::npos);
}

TEST(Settings, EverySettingIsRead) {
  test::TempDir tmp;
  auto key = test::make_key(tmp.path());
  std::string line = key.pub_text.substr(key.pub_text.find('\n') + 1);
  line = line.substr(0, line.find('\n'));
  Settings s = parse_settings(R"({"source":"https://example.com/mesh/","release_key":")" + line +
                              R"(","max_archive_mb":64,"connect_timeout_ms":500,)"
                              R"("stall_timeout_ms":2000,"attempts":2,"health_timeout_s":30,)"
                              R"("serve":false,"keep_archives":1})");
  EXPECT_EQ(s.source, "https://example.com/mesh/");
  ASSERT_TRUE(s.release_key);
  EXPECT_EQ(s.max_archive_bytes, 64ull << 20);
  EXPECT_EQ(s.connect_timeout.count(), 500);
  EXPECT_EQ(s.stall_timeout.count(), 2000);
  EXPECT_EQ(s.attempts, 2);
  EXPECT_EQ(s.health_timeout.count(), 30);
  EXPECT_FALSE(s.serve);
  EXPECT_EQ(s.keep_archives, 1u);
  // The whole .pub file is accepted too, and an empty key means none.
  EXPECT_TRUE(parse_settings("{\"release_key\":" +
                             boost::json::serialize(boost::json::value(key.pub_text)) + "}")
                  .release_key);
  EXPECT_FALSE(parse_settings(R"({"release_key":"  "})").release_key);
}

TEST(Settings, BadValuesAreRefusedByName) {
  EXPECT_NE(error_of(R"({"sourse":"x"})").find("no setting 'sourse'"), std::string::npos);
  EXPECT_NE(error_of(R"({"source":"http://example.com/"})").find("source"), std::string::npos);
  EXPECT_NE(error_of(R"({"source":"ftp://x/"})").find("source"), std::string::npos);
  EXPECT_NE(error_of(R"({"source":5})").find("must be a string"), std::string::npos);
  EXPECT_NE(error_of(R"({"release_key":"RWnotakey"})").find("release_key"), std::string::npos);
  EXPECT_NE(error_of(R"({"attempts":0})").find("attempts"), std::string::npos);
  EXPECT_NE(error_of(R"({"attempts":"2"})").find("attempts"), std::string::npos);
  EXPECT_NE(error_of(R"({"max_archive_mb":-1})").find("max_archive_mb"), std::string::npos);
  EXPECT_NE(error_of(R"({"health_timeout_s":4})").find("health_timeout_s"), std::string::npos);
  EXPECT_NE(error_of(R"({"serve":"yes"})").find("true or false"), std::string::npos);
  EXPECT_NE(error_of("[]").find("table"), std::string::npos);
  EXPECT_NE(error_of("{").find("not valid"), std::string::npos);
  // Plain http is for a loopback mirror only.
  EXPECT_EQ(parse_settings(R"({"source":"http://127.0.0.1:8080/r"})").source,
            "http://127.0.0.1:8080/r");
}

}  // namespace
}  // namespace mesh::updater
