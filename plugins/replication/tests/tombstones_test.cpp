// Tombstones (deleted refs kept across restarts) and the state files behind them.
#include "tombstones.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "state_file.hpp"

namespace fs = std::filesystem;
using namespace mesh::repl;

namespace {

const std::string kA(40, 'a'), kB(40, 'b'), kC(40, 'c');

struct TmpDir {
  fs::path path = fs::temp_directory_path() / ("mesh-tomb-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(std::random_device{}() % 100000));
  TmpDir() { fs::create_directories(path); }
  ~TmpDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST(Tombstones, AddFindClearAndSurviveARestart) {
  TmpDir d;
  const fs::path file = d.path / "tombstones.json";
  std::string err;
  {
    Tombstones t({.file = file});
    t.load(&err);
    EXPECT_EQ(err, "");  // no file yet: empty, no error
    EXPECT_FALSE(t.find("app", "refs/heads/x"));
    ASSERT_TRUE(t.add("app", "refs/heads/x", kA, &err)) << err;
    ASSERT_TRUE(t.add("app", "refs/tags/v1", kB, &err)) << err;
    EXPECT_EQ(t.find("app", "refs/heads/x"), kA);
    EXPECT_FALSE(t.find("other", "refs/heads/x"));
  }
  Tombstones again({.file = file});
  again.load(&err);
  EXPECT_EQ(err, "");
  EXPECT_EQ(again.find("app", "refs/heads/x"), kA);
  EXPECT_EQ(again.find("app", "refs/tags/v1"), kB);
  // New work under the name: the tombstone goes, on disk too.
  ASSERT_TRUE(again.clear("app", "refs/heads/x", &err)) << err;
  EXPECT_TRUE(again.clear("app", "refs/heads/never", &err));  // nothing to do
  Tombstones third({.file = file});
  third.load(&err);
  EXPECT_FALSE(third.find("app", "refs/heads/x"));
  EXPECT_EQ(third.size(), 1u);

  // A batch (a push that prunes branches and moves others): one call, all of it persisted.
  ASSERT_TRUE(
      third.record("app", {{"refs/heads/a", kA}, {"refs/heads/b", kB}}, {"refs/tags/v1"}, &err))
      << err;
  Tombstones fourth({.file = file});
  fourth.load(&err);
  EXPECT_EQ(fourth.find("app", "refs/heads/a"), kA);
  EXPECT_EQ(fourth.find("app", "refs/heads/b"), kB);
  EXPECT_FALSE(fourth.find("app", "refs/tags/v1"));
  EXPECT_EQ(fourth.size(), 2u);
}

TEST(Tombstones, ExpireAndStayWithinTheirCap) {
  TmpDir d;
  const fs::path file = d.path / "tombstones.json";
  std::string err;
  // An entry older than the life is dropped on load; a fresh one is kept.
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::ofstream(file) << R"({"v":1,"tombstones":[)"
                      << R"({"repo":"app","ref":"refs/heads/old","oid":")" << kA << R"(","at_ms":)"
                      << now - 2 * 3600 * 1000 << "},"
                      << R"({"repo":"app","ref":"refs/heads/new","oid":")" << kB << R"(","at_ms":)"
                      << now << "}]}";
  Tombstones t({.file = file, .life = std::chrono::hours(1), .max_entries = 3});
  t.load(&err);
  EXPECT_EQ(err, "");
  EXPECT_FALSE(t.find("app", "refs/heads/old"));
  EXPECT_EQ(t.find("app", "refs/heads/new"), kB);
  // Beyond max_entries the oldest goes first.
  for (const char* ref : {"refs/heads/r1", "refs/heads/r2", "refs/heads/r3"}) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    ASSERT_TRUE(t.add("app", ref, kC, &err)) << err;
  }
  EXPECT_EQ(t.size(), 3u);
  EXPECT_FALSE(t.find("app", "refs/heads/new"));
  EXPECT_EQ(t.find("app", "refs/heads/r3"), kC);
}

TEST(Tombstones, BadFilesAreReportedAndBadEntriesSkipped) {
  TmpDir d;
  const fs::path file = d.path / "tombstones.json";
  std::string err;
  std::ofstream(file) << "not json";
  Tombstones t({.file = file});
  t.load(&err);
  EXPECT_NE(err.find("not a tombstone list"), std::string::npos) << err;
  EXPECT_EQ(t.size(), 0u);

  // Names and ids are validated like those of events: a path or argv never sees a bad one.
  std::ofstream(file, std::ios::trunc)
      << R"({"v":1,"tombstones":[{"repo":"../x","ref":"refs/heads/a","oid":")" << kA
      << R"(","at_ms":1},{"repo":"app","ref":"refs/heads/-x","oid":")" << kA
      << R"(","at_ms":1},{"repo":"app","ref":"refs/heads/a","oid":"zz","at_ms":1},)"
      << R"({"repo":"app","ref":"refs/heads/a","oid":")" << kA << R"(","at_ms":"soon"}]})";
  Tombstones u({.file = file, .life = std::chrono::hours(24 * 365 * 100)});
  u.load(&err);
  EXPECT_NE(err.find("skipped 4 bad entries"), std::string::npos) << err;
  EXPECT_EQ(u.size(), 0u);
}

TEST(StateFile, ReplacesWholeAndRefusesOversizedReads) {
  TmpDir d;
  const fs::path file = d.path / "sub" / "state.json";
  std::string err;
  EXPECT_FALSE(read_state_file(file, 100, &err));
  EXPECT_EQ(err, "");  // missing is no error
  ASSERT_TRUE(write_state_file(file, "first", true, &err)) << err;
  ASSERT_TRUE(write_state_file(file, "second", false, &err)) << err;
  EXPECT_EQ(slurp(file), "second");
  EXPECT_FALSE(fs::exists(fs::path(file) += ".tmp"));
  EXPECT_EQ(read_state_file(file, 100, &err), "second");
  EXPECT_FALSE(read_state_file(file, 3, &err));
  EXPECT_NE(err.find("is over 3 bytes"), std::string::npos) << err;
  // A directory where the file should go: a clear error, the old content untouched.
  fs::create_directories(d.path / "blocked");
  EXPECT_FALSE(write_state_file(d.path / "blocked", "x", true, &err));
  EXPECT_FALSE(err.empty());
}
