#include "job_log.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "limits.hpp"
#include "records.hpp"

using namespace mesh::ci;

namespace {

const std::string kRun(64, '5');

std::string noise(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Every segment is a record that fits one event and decodes again.
std::vector<LogSegment> publishable(const std::vector<Record>& records) {
  std::vector<LogSegment> out;
  for (const auto& r : records) {
    auto json = encode_record(r);
    EXPECT_TRUE(json) << (json ? "" : json.error().message);
    if (!json) continue;
    EXPECT_LE(json->size(), limits::kEventBytes);
    auto back = decode_record(*json);
    EXPECT_TRUE(back);
    if (back) out.push_back(std::get<LogSegment>(back->body));
  }
  return out;
}

}  // namespace

TEST(CiJobLog, SegmentsReassembleInAnyOrder) {
  // Compressible text and incompressible bytes, so both the raw target and the split apply.
  std::string text;
  for (int i = 0; i < 40'000; ++i) text += "line " + std::to_string(i) + ": compiling\n";
  text += noise(300'000, 1);
  LogSegmenter seg(kRun, 1, "build", limits::kDefaultJobLogBytes);
  std::vector<Record> records;
  for (std::size_t i = 0; i < text.size(); i += 7'777) {
    auto part = seg.add(std::string_view(text).substr(i, 7'777));
    records.insert(records.end(), part.begin(), part.end());
  }
  auto rest = seg.finish();
  records.insert(records.end(), rest.begin(), rest.end());
  EXPECT_TRUE(seg.finish().empty());
  auto segments = publishable(records);
  ASSERT_GT(segments.size(), 4u);
  EXPECT_TRUE(segments.back().last);
  EXPECT_EQ(seg.kept(), text.size());
  EXPECT_EQ(seg.dropped(), 0u);
  std::mt19937 rng(3);
  std::shuffle(segments.begin(), segments.end(), rng);
  JobLog log;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    ASSERT_TRUE(log.add(segments[i])) << i;
    EXPECT_EQ(log.complete(), i + 1 == segments.size());
  }
  EXPECT_EQ(log.text(), text);
  EXPECT_TRUE(log.add(segments[0]));  // the same segment again is fine
  EXPECT_EQ(log.text(), text);
}

TEST(CiJobLog, PartialLogIsThePrefix) {
  LogSegmenter seg(kRun, 1, "build", limits::kDefaultJobLogBytes);
  std::string text = noise(kSegmentRawTarget * 2 + 10, 2);
  auto records = seg.add(text);
  auto last = seg.finish();
  records.insert(records.end(), last.begin(), last.end());
  auto segments = publishable(records);
  JobLog log;
  for (const auto& s : segments) {
    if (s.seq != 1) {
      ASSERT_TRUE(log.add(s));
    }
  }
  EXPECT_FALSE(log.complete());
  EXPECT_EQ(log.text(), text.substr(0, segments[0].raw_len));
}

TEST(CiJobLog, SizeCapIsMarkedInTheLog) {
  LogSegmenter seg(kRun, 2, "test", 64 * 1024);
  std::vector<Record> records;
  for (int i = 0; i < 100; ++i) {
    auto part = seg.add(std::string(1000, 'x'));
    records.insert(records.end(), part.begin(), part.end());
  }
  auto rest = seg.finish();
  records.insert(records.end(), rest.begin(), rest.end());
  EXPECT_EQ(seg.kept(), 64u * 1024);
  EXPECT_EQ(seg.dropped(), 100'000u - 64 * 1024);
  JobLog log;
  for (const auto& s : publishable(records)) ASSERT_TRUE(log.add(s));
  ASSERT_TRUE(log.complete());
  EXPECT_EQ(log.dropped(), seg.dropped());
  std::string text = log.text();
  EXPECT_EQ(text.substr(0, 64 * 1024), std::string(64 * 1024, 'x'));
  EXPECT_NE(text.find("[mesh: the log reached its limit of 65536 bytes"), std::string::npos);
  EXPECT_NE(
      text.find("[mesh: " + std::to_string(seg.dropped()) + " bytes of output were not kept]"),
      std::string::npos);
}

TEST(CiJobLog, EmptyLogAndBadSegments) {
  LogSegmenter seg(kRun, 1, "build", 1024 * 1024);
  auto records = seg.finish();
  ASSERT_EQ(records.size(), 1u);
  auto segments = publishable(records);
  JobLog log;
  ASSERT_TRUE(log.add(segments[0]));
  EXPECT_TRUE(log.complete());
  EXPECT_EQ(log.text(), "");
  // A segment that lies about its size, or is not zlib, is refused.
  LogSegment lie = segments[0];
  lie.raw_len = 5;
  EXPECT_FALSE(JobLog().add(lie));
  LogSegment junk = segments[0];
  junk.data = "not zlib";
  EXPECT_FALSE(JobLog().add(junk));
  // A different segment under a seq already held, or one past the last, is refused.
  LogSegment other;
  other.job = "build";
  other.attempt = 1;
  other.seq = 0;
  other.raw_len = 3;
  other.data = deflate_bytes("abc");
  EXPECT_FALSE(log.add(other));
  other.seq = 1;
  other.offset = 0;
  EXPECT_FALSE(log.add(other));
  // A zip bomb cannot claim more than 1 MiB per segment.
  EXPECT_FALSE(inflate_bytes(deflate_bytes(std::string(2 * 1024 * 1024, 'a')), 2 * 1024 * 1024));
  EXPECT_FALSE(inflate_bytes(deflate_bytes(std::string(1000, 'a')), 999));
  EXPECT_EQ(*inflate_bytes(deflate_bytes("hello"), 5), "hello");
}
