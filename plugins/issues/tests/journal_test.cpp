#include "journal.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "query.hpp"
#include "test_util.hpp"

using namespace mesh::issues;
using namespace mesh::issues::test;
namespace fs = std::filesystem;

namespace {

struct JournalTest : ::testing::Test {
  fs::path dir =
      fs::temp_directory_path() / ("issues-journal-" + std::to_string(::getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::path file = dir / "journal";
  void SetUp() override {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  std::vector<StoredEvent> replay(std::string* error, JournalReport* report) {
    std::vector<StoredEvent> out;
    auto j = Journal::open(
        file,
        [&](const EventIn& e) {
          out.push_back(
              {std::string(e.origin), e.seq, e.lamport, e.wall_ms, std::string(e.payload)});
        },
        report, error);
    if (!j) out.clear();
    return j ? out : std::vector<StoredEvent>{};
  }
  std::vector<StoredEvent> write_some(int n) {
    std::string error;
    JournalReport report;
    auto j = Journal::open(
        file, [](const EventIn&) {}, &report, &error);
    EXPECT_TRUE(j) << error;
    Node a("mesh:aaaa");
    std::vector<StoredEvent> events;
    events.push_back(a.publish(create_op("my-app", 1, "t")));
    for (int i = 1; i < n; ++i) {
      Op c = issue_op(Kind::comment, "my-app", events.front().id());
      c.body = "comment " + std::to_string(i) + std::string(static_cast<std::size_t>(i) * 10, 'x');
      events.push_back(a.publish(c));
    }
    for (const auto& e : events) EXPECT_TRUE(j->append(e.view(), &error)) << error;
    return events;
  }
  std::string contents() {
    std::ifstream f(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  void rewrite(const std::string& data) {
    std::ofstream f(file, std::ios::binary | std::ios::trunc);
    f << data;
  }
};

bool same(const std::vector<StoredEvent>& a, const std::vector<StoredEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].origin != b[i].origin || a[i].seq != b[i].seq || a[i].lamport != b[i].lamport ||
        a[i].wall_ms != b[i].wall_ms || a[i].payload != b[i].payload) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_F(JournalTest, ReplaysWhatWasAppendedAndRebuildsTheSameBoard) {
  auto written = write_some(20);
  std::string error;
  JournalReport report;
  auto back = replay(&error, &report);
  EXPECT_TRUE(error.empty()) << error;
  EXPECT_EQ(report.events, 20u);
  EXPECT_EQ(report.dropped_bytes, 0u);
  EXPECT_TRUE(same(back, written));
  Board original, rebuilt;
  for (const auto& e : written) original.apply(e.view());
  for (const auto& e : back) rebuilt.apply(e.view());
  EXPECT_EQ(rebuilt.stats().applied, original.stats().applied);
  EXPECT_EQ(comments_in_order(*rebuilt.issue(written[0].id())).size(), 19u);
}

TEST_F(JournalTest, ATornTailIsCutOffAndAppendsContinue) {
  auto written = write_some(5);
  std::string data = contents();
  rewrite(data.substr(0, data.size() - 7));  // the last record lost its end
  std::string error;
  JournalReport report;
  std::vector<StoredEvent> back;
  {
    auto j = Journal::open(
        file,
        [&](const EventIn& e) {
          back.push_back(
              {std::string(e.origin), e.seq, e.lamport, e.wall_ms, std::string(e.payload)});
        },
        &report, &error);
    ASSERT_TRUE(j) << error;
    EXPECT_EQ(report.events, 4u);
    EXPECT_GT(report.dropped_bytes, 0u);
    EXPECT_TRUE(j->append(written[4].view(), &error)) << error;
  }
  auto again = replay(&error, &report);
  EXPECT_TRUE(same(again, written));
  EXPECT_EQ(report.dropped_bytes, 0u);
}

TEST_F(JournalTest, DamageOrAForeignFileMakesItUnusable) {
  write_some(5);
  std::string data = contents();
  std::string damaged = data;
  damaged[20] = static_cast<char>(damaged[20] ^ 0x55);  // inside the first record
  rewrite(damaged);
  std::string error;
  JournalReport report;
  EXPECT_FALSE(Journal::open(
      file, [](const EventIn&) {}, &report, &error));
  EXPECT_NE(error.find("damaged"), std::string::npos) << error;
  rewrite("not a journal at all");
  EXPECT_FALSE(Journal::open(
      file, [](const EventIn&) {}, &report, &error));
  EXPECT_NE(error.find("bad header"), std::string::npos) << error;
  rewrite(data.substr(0, 5));  // a crash while the header was written
  EXPECT_TRUE(Journal::open(
      file, [](const EventIn&) {}, &report, &error))
      << error;
}
