// [plugins.browse] validation, and the reader pool's queue cap and stop.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "pool.hpp"
#include "settings.hpp"

namespace mesh::browse {
namespace {

TEST(Settings, DefaultsAndBounds) {
  Settings s = Settings::parse("{}");
  EXPECT_EQ(s.max_file_bytes, 1024u * 1024u);
  EXPECT_EQ(s.max_tree_entries, 1000u);
  EXPECT_EQ(s.threads, 2u);
  Settings t = Settings::parse(R"({"max_file_bytes":2048,"threads":4,"queue":8})");
  EXPECT_EQ(t.max_file_bytes, 2048u);
  EXPECT_EQ(t.threads, 4u);
  EXPECT_EQ(t.queue, 8u);
}

TEST(Settings, RefusalsNameTheKey) {
  auto refused = [](const std::string& json) {
    try {
      Settings::parse(json);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refused(R"({"max_file_bytes":0})").rfind("max_file_bytes: ", 0), 0u);
  EXPECT_EQ(refused(R"({"max_file_bytes":"1"})").rfind("max_file_bytes: ", 0), 0u);
  EXPECT_EQ(refused(R"({"threads":17})").rfind("threads: ", 0), 0u);
  EXPECT_EQ(refused(R"({"max_tree_entries":-1})").rfind("max_tree_entries: ", 0), 0u);
  EXPECT_EQ(refused(R"({"colour":"red"})").rfind("colour: unknown setting", 0), 0u);
  EXPECT_NE(refused("[]"), "accepted");
}

TEST(Pool, AFullQueueRefusesAndStopRunsWhatWasQueued) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, started = false;
  std::atomic<int> ran{0};
  Pool pool(1, 2);
  ASSERT_TRUE(pool.submit([&] {
    std::unique_lock lock(mu);
    started = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    ++ran;
  }));
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return started; });  // the only thread is busy now
  }
  EXPECT_TRUE(pool.submit([&] { ++ran; }));
  EXPECT_TRUE(pool.submit([&] { ++ran; }));
  EXPECT_FALSE(pool.submit([&] { ++ran; }));  // two waiting: the cap
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  pool.stop();
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(pool.submit([&] { ++ran; }));
}

TEST(Pool, AThrowingJobKeepsTheThread) {
  std::atomic<int> ran{0};
  Pool pool(1, 4);
  ASSERT_TRUE(pool.submit([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(pool.submit([&] { ++ran; }));
  pool.stop();
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace mesh::browse
