#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "heartbeat.hpp"
#include "limits.hpp"

using namespace mesh::ci;

namespace {

RunnerInfo runner(std::string name, std::vector<std::string> modes, std::vector<std::string> labels,
                  std::uint32_t slots, std::uint32_t free) {
  return RunnerInfo{std::move(name), std::move(modes), std::move(labels), slots, free};
}

}  // namespace

TEST(CiHeartbeat, RoundTrip) {
  std::vector<RunnerInfo> runners = {runner("shell", {"shell"}, {"linux"}, 2, 1),
                                     runner("docker", {"docker"}, {"linux", "x86_64"}, 1, 0)};
  auto json = heartbeat_part_json(runners, 0.25);
  auto back = parse_heartbeat_part(boost::json::parse(json));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_DOUBLE_EQ(back->load, 0.25);
  ASSERT_EQ(back->runners.size(), 2u);
  EXPECT_EQ(back->runners[1].labels, (std::vector<std::string>{"linux", "x86_64"}));
  EXPECT_EQ(back->runners[0].free, 1u);
  // The 8 KiB budget is kept even with many long labels.
  std::vector<RunnerInfo> many;
  for (int i = 0; i < 16; ++i) {
    std::vector<std::string> labels;
    for (int l = 0; l < 16; ++l) labels.push_back(std::string(60, static_cast<char>('a' + l)));
    many.push_back(runner("r" + std::to_string(i), {"shell"}, labels, 1, 1));
  }
  auto big = heartbeat_part_json(many, 1);
  EXPECT_LE(big.size(), limits::kHeartbeatBytes);
  auto parsed = parse_heartbeat_part(boost::json::parse(big));
  ASSERT_TRUE(parsed);
  EXPECT_GE(parsed->runners.size(), 1u);
  EXPECT_LT(parsed->runners.size(), 16u);
}

TEST(CiHeartbeat, RefusesBadParts) {
  for (const char* bad : {
           R"([])",
           R"({"load":-1})",
           R"({"load":"x"})",
           R"({"runners":{}})",
           R"({"runners":[{"name":"-x","modes":["shell"],"slots":1,"free":1}]})",
           R"({"runners":[{"name":"s","modes":["Shell"],"slots":1,"free":1}]})",
           R"({"runners":[{"name":"s","modes":["shell"],"slots":0,"free":0}]})",
           R"({"runners":[{"name":"s","modes":["shell"],"slots":65,"free":1}]})",
           R"({"runners":[{"name":"s","modes":["shell"],"slots":2,"free":3}]})",
           R"({"runners":[{"name":"s","modes":["shell"],"labels":["a b"],"slots":1,"free":1}]})",
       }) {
    EXPECT_FALSE(parse_heartbeat_part(boost::json::parse(bad))) << bad;
  }
  EXPECT_TRUE(parse_heartbeat_part(boost::json::parse("{}")));  // a node without runners
}

TEST(CiHeartbeat, HostRunnersJson) {
  auto r = parse_runners_json(
      R"([{"name":"shell","plugin":"runner-shell","modes":["shell"],"labels":["linux"],"slots":2,"free":2}])");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].name, "shell");
  EXPECT_FALSE(parse_runners_json("{}"));
  EXPECT_FALSE(parse_runners_json("[{}]"));
  EXPECT_TRUE(parse_runners_json("[]"));
}
