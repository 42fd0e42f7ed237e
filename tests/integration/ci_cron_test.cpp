// Cron across three real daemons, each with a linux runner: `* * * * *` for two whole minutes
// makes exactly one run per minute in the whole mesh (the elected node claims each slot and runs
// it), and every node shows the same runs. Two minutes, not more: each one costs a minute of CI.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "ci_util.hpp"

using namespace mesh::test;
using namespace mesh::test::ci;

namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Schedule runs by id on n, with their creation minute.
std::map<std::string, std::uint64_t> schedule_runs(const Node& n) {
  std::map<std::string, std::uint64_t> out;
  auto p = n.mesh({"--json", "ci", "status", "app", "--limit", "100"});
  boost::system::error_code ec;
  auto v = boost::json::parse(p.out, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& r : v.as_array()) {
    if (r.at("trigger").as_string() != "schedule") continue;
    out[std::string(r.at("id").as_string())] =
        static_cast<std::uint64_t>(r.at("created_ms").as_int64()) / 60'000;
  }
  return out;
}

}  // namespace

TEST(CiCron, EveryMinuteForTwoMinutesIsExactlyTwoRunsInTheMesh) {
  Trio t("ci-cron", {"replication", "ci", "runner-shell"});
  for (Node* n : t.all())
    n->write_config({"replication", "ci", "runner-shell"}, runner_config(true, "\"linux\""));
  t.start_and_pair();
  auto work = t.make_repo("app", 1);
  fs::create_directories(work / ".mesh");
  std::ofstream(work / ".mesh" / "mesh-ci.yml") << R"yml(on: { schedule: [{ cron: "* * * * *" }] }
runner: { labels: [linux] }
jobs:
  tick: { commands: ["echo tick at $(date -u +%H:%M)"] }
)yml";
  ASSERT_EQ(t.git({"add", "-A"}, work).exit, 0);
  ASSERT_EQ(t.git({"commit", "-q", "-m", "cron"}, work).exit, 0);
  ASSERT_EQ(t.git({"push", Trio::http(t.a, "app"), "main"}, work).exit, 0);
  std::string sha = t.rev(work, "HEAD");
  ASSERT_TRUE(eventually(
      [&] {
        return same_refs_everywhere(t, "app", {{"refs/heads/main", sha}});
      },
      30s));
  // Count the slots of two whole minutes starting at the next minute boundary.
  std::uint64_t first = now_ms() / 60'000 + 1;
  std::uint64_t last = first + 1;
  ASSERT_TRUE(eventually(
      [&] {
        for (Node* n : t.all()) {
          std::size_t in = 0;
          for (const auto& [id, minute] : schedule_runs(*n)) in += minute > last;
          if (in == 0) return false;  // the minute after the window has begun everywhere
        }
        return true;
      },
      std::chrono::seconds(5 * 60)));
  std::map<std::string, std::uint64_t> seen = schedule_runs(t.a);
  std::map<std::uint64_t, int> per_minute;
  for (const auto& [id, minute] : seen) {
    if (minute >= first && minute <= last) ++per_minute[minute];
  }
  EXPECT_EQ(per_minute.size(), 2u);
  for (const auto& [minute, count] : per_minute) EXPECT_EQ(count, 1) << "minute " << minute;
  for (Node* n : {&t.b, &t.c}) EXPECT_EQ(schedule_runs(*n), seen) << n->name();
  for (const auto& [id, minute] : seen) {
    if (minute < first || minute > last) continue;
    ASSERT_TRUE(eventually([&] { return state_on(t.b, "app", id) == "passed"; }, 30s)) << id;
    EXPECT_NE(logs_on(t.b, "app", id).find("tick at"), std::string::npos);
  }
}
