// Per-member replication limits on real daemons: a member pushing repo after repo makes another
// node create at most [plugins.replication] max_new_repos_per_hour of them, visibly, while a
// third member's new repo still arrives; and the settings are checked on reload.
#include <gtest/gtest.h>

#include "trio.hpp"

using namespace mesh::test;
using namespace std::chrono_literals;
namespace json = boost::json;

TEST(ReplicationLimits, NewReposPerMemberAreCappedVisiblyWhileOthersReposArrive) {
  Trio t("repl-limits");
  t.a.write_config({"replication"}, "[plugins.replication]\nmax_new_repos_per_hour = 2\n");
  t.start_and_pair();
  const std::string bob_id = std::string(t.b.mesh_json({"id"}).at("id").as_string());
  auto work = t.make_repo("flood", 1);
  for (int i = 1; i <= 4; ++i) {
    auto push =
        t.git_to(t.b, {"push", "-q", Trio::https(t.b, "r" + std::to_string(i)), "main"}, work);
    ASSERT_EQ(push.exit, 0) << push.err;
  }
  auto mine = t.make_repo("carols", 1);
  ASSERT_EQ(t.git_to(t.c, {"push", "-q", Trio::https(t.c, "c1"), "main"}, mine).exit, 0);

  // Carol's repo reaches A; of Bob's four, A takes two (which two depends on delivery order).
  EXPECT_TRUE(eventually([&] { return !refs_of(t.a, "c1").empty(); }, 60s));
  auto on_a = [&] {
    int n = 0;
    for (int i = 1; i <= 4; ++i) n += refs_of(t.a, "r" + std::to_string(i)).empty() ? 0 : 1;
    return n;
  };
  EXPECT_TRUE(eventually([&] { return on_a() == 2; }, 60s)) << on_a();
  // Carol, whose node has no such limit, has all four.
  EXPECT_TRUE(
      eventually([&] { return !refs_of(t.c, "r4").empty() && !refs_of(t.c, "r3").empty(); }, 60s));
  EXPECT_EQ(on_a(), 2);
  // Visible: a log line (once, not per retry) and Bob's counter in `mesh status --json`.
  EXPECT_TRUE(eventually(
      [&] {
        auto st = t.a.mesh_json({"status"});
        const auto* lim = st.as_object().if_contains("replication_limits");
        const auto* bob = lim && lim->is_object() ? lim->as_object().if_contains(bob_id) : nullptr;
        return bob && bob->at("repos_refused").to_number<std::int64_t>() >= 1;
      },
      20s))
      << t.a.mesh({"--json", "status"}).out;
  EXPECT_EQ(log_lines_with(t.a, "is over [plugins.replication] max_new_repos_per_hour = 2").size(),
            1u);

  // A bad value is refused on reload with its line, and the running settings stay.
  t.a.write_config({"replication"}, "[plugins.replication]\nmax_new_repos_per_hour = 0\n");
  auto reload = t.a.mesh({"reload"});
  EXPECT_EQ(reload.exit, 1);
  EXPECT_NE(reload.err.find("max_new_repos_per_hour: must be an integer from 1 to 1000000"),
            std::string::npos)
      << reload.err;
  EXPECT_NE(reload.err.find("mesh.toml:"), std::string::npos) << reload.err;
  EXPECT_EQ(on_a(), 2);
}
