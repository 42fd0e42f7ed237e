// The archives a node keeps for members (archive_store.hpp) and the update state files
// (state.hpp).
#include <gtest/gtest.h>

#include "archive_store.hpp"
#include "release.hpp"
#include "state.hpp"
#include "test_util.hpp"

namespace mesh::updater {
namespace {
namespace fs = std::filesystem;

std::string name_of(const std::string& v) {
  return "mesh-" + v + "-linux-" + std::string(build_arch()) + ".tar.gz";
}

void put(ArchiveStore& store, const fs::path& tmp, const std::string& v) {
  fs::path f = tmp / ("download-" + v);
  test::write_file(f, "archive " + v);
  ASSERT_TRUE(store.put(f, name_of(v), "sig " + v, std::string(64, 'a')));
  EXPECT_FALSE(fs::exists(f));
}

TEST(ArchiveStore, ListsCompleteEntriesNewestFirstAndServesOnlyThose) {
  test::TempDir tmp;
  ArchiveStore store(tmp / "archives");
  EXPECT_TRUE(store.list().empty());
  put(store, tmp.path(), "1.0.0");
  put(store, tmp.path(), "1.10.0");
  put(store, tmp.path(), "1.2.0");
  // Not entries: an archive without a signature, another platform's, a symlink, junk.
  test::write_file(tmp / "archives" / name_of("9.0.0"), "no signature");
  test::write_file(tmp / "archives/mesh-9.9.9-linux-sparc.tar.gz", "x");
  test::write_file(tmp / "archives/mesh-9.9.9-linux-sparc.tar.gz.minisig", "x");
  fs::create_symlink("/etc/passwd", tmp / "archives" / name_of("8.0.0"));
  test::write_file(tmp / "archives" / (name_of("8.0.0") + ".minisig"), "x");
  test::write_file(tmp / "archives/notes.txt", "x");
  auto held = store.list();
  ASSERT_EQ(held.size(), 3u);
  EXPECT_EQ(held[0].version.str(), "1.10.0");
  EXPECT_EQ(held[1].version.str(), "1.2.0");
  EXPECT_EQ(held[2].version.str(), "1.0.0");
  EXPECT_EQ(held[0].size, std::string("archive 1.10.0").size());
  EXPECT_EQ(held[0].sha256_hex, std::string(64, 'a'));
  EXPECT_TRUE(store.servable(name_of("1.2.0")));
  EXPECT_TRUE(store.servable(name_of("1.2.0") + ".minisig"));
  for (std::string bad : {name_of("1.2.0") + ".sha256", name_of("9.0.0"), name_of("8.0.0"),
                          std::string("notes.txt"), "../" + name_of("1.2.0"), std::string("")})
    EXPECT_FALSE(store.servable(bad)) << bad;
}

TEST(ArchiveStore, PruneKeepsTheNewestAndTheRunningVersion) {
  test::TempDir tmp;
  ArchiveStore store(tmp / "archives");
  for (const char* v : {"1.0.0", "1.1.0", "1.2.0", "1.3.0"}) put(store, tmp.path(), v);
  store.prune(2, parse_semver("1.0.0").value());
  auto held = store.list();
  ASSERT_EQ(held.size(), 3u);
  EXPECT_EQ(held[0].version.str(), "1.3.0");
  EXPECT_EQ(held[1].version.str(), "1.2.0");
  EXPECT_EQ(held[2].version.str(), "1.0.0");
  EXPECT_FALSE(fs::exists(tmp / "archives" / (name_of("1.1.0") + ".minisig")));
  store.prune(0, std::nullopt);
  EXPECT_TRUE(store.list().empty());
}

TEST(State, AttemptsRoundTripAndDescribeTheirOutcome) {
  test::TempDir tmp;
  EXPECT_FALSE(*read_attempt(tmp / "none.json"));
  Attempt a;
  a.attempt = random_attempt_id();
  EXPECT_EQ(a.attempt.size(), 16u);
  EXPECT_NE(a.attempt, random_attempt_id());
  a.kind = "update";
  a.from = "1.0.0";
  a.to = "1.1.0";
  a.started_ms = now_ms();
  a.watchdog_pid = 42;
  ASSERT_TRUE(write_attempt(tmp / "pending.json", a));
  auto back = read_attempt(tmp / "pending.json");
  ASSERT_TRUE(back && *back);
  EXPECT_EQ((*back)->attempt, a.attempt);
  EXPECT_EQ((*back)->watchdog_pid, 42);
  EXPECT_TRUE((*back)->result.empty());
  EXPECT_EQ(describe(**back), "an update from 1.0.0 to 1.1.0 is in progress");
  a.result = "updated";
  EXPECT_EQ(describe(a), "updated from 1.0.0 to 1.1.0");
  a.result = "rolled_back";
  a.reason = "plugin ci is failed";
  EXPECT_EQ(describe(a),
            "the update to 1.1.0 failed its health check and was rolled back to 1.0.0: plugin ci "
            "is failed");
  a.kind = "rollback";
  a.result = "updated";
  EXPECT_EQ(describe(a), "rolled back by hand from 1.0.0 to 1.1.0");
  test::write_file(tmp / "bad.json", "{oops");
  EXPECT_FALSE(read_attempt(tmp / "bad.json"));
}

}  // namespace
}  // namespace mesh::updater
