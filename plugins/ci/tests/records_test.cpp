#include "records.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "limits.hpp"
#include "test_util.hpp"

using namespace mesh::ci;
using namespace mesh::ci::test;

namespace {

Record roundtrip(const Record& r) {
  auto json = encode_record(r);
  EXPECT_TRUE(json) << (json ? "" : json.error().message);
  if (!json) return r;
  EXPECT_LE(json->size(), limits::kEventBytes);
  auto back = decode_record(*json);
  EXPECT_TRUE(back) << *json << " -> " << (back ? "" : back.error().message);
  if (!back) return r;
  EXPECT_EQ(back->run, r.run);
  EXPECT_EQ(back->body.index(), r.body.index());
  // Encoding is stable: the decoded record encodes to the same text.
  EXPECT_EQ(*encode_record(*back), *json);
  return *back;
}

std::string run() {
  return id_of(created());
}

// Decodes JSON edited from a valid record; returns the error (empty if it decoded).
std::string decode_error(const std::string& json) {
  auto r = decode_record(json);
  return r ? "" : r.error().message;
}

std::string edited(const Record& r, const std::function<void(boost::json::object&)>& edit) {
  auto v = boost::json::parse(*encode_record(r));
  edit(v.as_object());
  return boost::json::serialize(v);
}

}  // namespace

TEST(CiRecords, EveryTypeRoundTrips) {
  auto c = roundtrip(Record{run(), created()});
  const auto& rc = std::get<RunCreated>(c.body);
  EXPECT_EQ(rc.repo, "my-app");
  EXPECT_EQ(rc.fallback, Fallback::any);
  ASSERT_EQ(rc.jobs.size(), 2u);
  EXPECT_EQ(rc.jobs[1].needs, std::vector<std::string>{"build"});
  auto a = roundtrip(Record{run(), assigned(1, node('c'))});
  EXPECT_EQ(record_type(a), "run.assigned");
  EXPECT_EQ(std::get<RunAssigned>(a.body).runners.size(), 2u);
  auto re = roundtrip(Record{run(), assigned(2, node('b'), "carol did not claim within 10 s")});
  EXPECT_EQ(record_type(re), "run.reassigned");
  EXPECT_EQ(std::get<RunAssigned>(re.body).reason, "carol did not claim within 10 s");
  roundtrip(Record{run(), RunClaimed{1, 123}});
  roundtrip(Record{run(), RunDeclined{1, "mode docker not allowed"}});
  roundtrip(Record{run(), LeaseRenewed{1, 456}});
  auto u = roundtrip(Record{run(), job(1, "build", JobPhase::failed, -9)});
  EXPECT_EQ(std::get<JobUpdate>(u.body).exit_code, -9);
  auto e = roundtrip(Record{run(), ended(1, RunPhase::no_runner, "no runner up")});
  EXPECT_EQ(std::get<RunEnded>(e.body).state, RunPhase::no_runner);
  roundtrip(Record{run(), CancelRequested{"by alice"}});
  SlotKey key{"my-app", "main", "build", "test", 1'700'000'040};
  SlotClaimed sc{key, slot_id(key), run()};
  roundtrip(Record{run(), sc});
  roundtrip(Record{"", SlotMissed{key, slot_id(key), "no eligible runner was up"}});
  LogSegment seg;
  seg.attempt = 1;
  seg.job = "build";
  seg.seq = 3;
  seg.offset = 1000;
  seg.raw_len = 5;
  seg.last = true;
  seg.dropped = 7;
  seg.data = std::string("\x00\x01\xff", 3);
  auto s = roundtrip(Record{run(), seg});
  EXPECT_EQ(std::get<LogSegment>(s.body).data, seg.data);
}

TEST(CiRecords, RefusesMalformed) {
  EXPECT_NE(decode_error("not json"), "");
  EXPECT_NE(decode_error("[]"), "");
  EXPECT_NE(decode_error(R"({"v":2,"t":"run.cancel","run":")" + run() + "\"}"), "");
  EXPECT_NE(
      decode_error(R"({"v":1,"t":"run.bogus","run":")" + run() + "\"}").find("unknown record type"),
      std::string::npos);
  Record c{run(), created()};
  EXPECT_EQ(decode_error(edited(c, [](auto&) {})), "");
  EXPECT_NE(decode_error(edited(c, [](auto& o) { o["run"] = "xyz"; })), "");
  EXPECT_NE(decode_error(edited(c, [](auto& o) { o.erase("run"); })), "");
  EXPECT_NE(decode_error(edited(c, [](auto& o) { o["repo"] = "../etc"; })), "");
  EXPECT_NE(decode_error(edited(c, [](auto& o) { o["ref"] = "refs/heads/--upload-pack=x"; })), "");
  EXPECT_NE(decode_error(edited(c, [](auto& o) { o["sha"] = "HEAD"; })), "");
  EXPECT_NE(decode_error(edited(c, [](auto& o) { o["trigger"] = "webhook"; })), "");
  EXPECT_NE(decode_error(edited(c, [](auto& o) { o["trigger_key"] = "manual:x"; })), "");
  EXPECT_NE(decode_error(edited(c, [](auto& o) { o["fallback"] = "maybe"; })), "");
  EXPECT_NE(
      decode_error(edited(c, [](auto& o) { o["jobs"].as_array()[0].as_object()["name"] = "a b"; })),
      "");
  EXPECT_NE(decode_error(edited(c, [](auto& o) { o["labels"] = boost::json::array{1}; })), "");
  // Unknown fields are ignored: a later version may add some.
  EXPECT_EQ(decode_error(edited(c, [](auto& o) { o["future"] = 1; })), "");
  Record a{run(), assigned(1, node('c'))};
  EXPECT_NE(decode_error(edited(a, [](auto& o) { o["attempt"] = 0; })), "");
  EXPECT_NE(decode_error(edited(a, [](auto& o) { o["attempt"] = limits::kMaxAttempts + 1; })), "");
  EXPECT_NE(decode_error(edited(a, [](auto& o) { o["attempt"] = 2; })),
            "");  // assigned is attempt 1
  EXPECT_NE(decode_error(edited(a, [](auto& o) { o["node"] = "bob"; })), "");
  EXPECT_NE(decode_error(edited(a, [](auto& o) { o["runners"] = boost::json::object{}; })), "");
  EXPECT_NE(decode_error(edited(a,
                                [](auto& o) {
                                  o["runners"] = boost::json::object{{"shell", "-x"}};
                                })),
            "");
  EXPECT_NE(decode_error(edited(a, [](auto& o) { o["claim_by_ms"] = -1; })), "");
  Record e{run(), ended(1, RunPhase::failed, "x")};
  EXPECT_NE(decode_error(edited(e, [](auto& o) { o["state"] = "running"; })), "");  // not terminal
  EXPECT_NE(decode_error(edited(e, [](auto& o) { o.erase("reason"); })), "");  // failed needs one
  Record u{run(), job(1, "build", JobPhase::failed, 1)};
  EXPECT_NE(decode_error(edited(u, [](auto& o) { o["exit_code"] = 1LL << 40; })), "");
  EXPECT_NE(decode_error(edited(u, [](auto& o) { o["state"] = "done"; })), "");
  EXPECT_NE(decode_error(edited(u, [](auto& o) { o["reason"] = std::string(5000, 'x'); })), "");
  SlotKey key{"my-app", "main", "build", "", 1'700'000'040};
  Record sc{run(), SlotClaimed{key, slot_id(key), run()}};
  EXPECT_NE(decode_error(edited(sc, [](auto& o) { o["at_s"] = 1'700'000'041; })), "");
  EXPECT_NE(decode_error(edited(sc, [](auto& o) { o["job"] = "other"; })).find("does not match"),
            std::string::npos);
  EXPECT_NE(decode_error(edited(sc, [](auto& o) { o["run_id"] = std::string(64, 'b'); })), "");
  Record sm{"", SlotMissed{key, slot_id(key), "x"}};
  EXPECT_NE(decode_error(edited(sm, [&](auto& o) { o["run"] = run(); })), "");
  LogSegment seg;
  seg.attempt = 1;
  seg.job = "build";
  seg.data = "x";
  Record s{run(), seg};
  EXPECT_NE(decode_error(edited(s, [](auto& o) { o["data"] = "***"; })), "");
  EXPECT_NE(decode_error(edited(s, [](auto& o) { o["raw_len"] = 2 * 1024 * 1024; })), "");
  EXPECT_NE(decode_error(std::string(limits::kEventBytes + 1, ' ')), "");
}

TEST(CiRecords, EncoderCleansAndBounds) {
  // A reason with control bytes and broken UTF-8 (parts of a YAML file) is cleaned, and an
  // overlong one is cut, so every record written can be read back.
  Record e{run(), ended(0, RunPhase::failed,
                        std::string("bad\x01\xff yaml\n") + std::string(10'000, 'x'))};
  auto json = encode_record(e);
  ASSERT_TRUE(json) << json.error().message;
  auto back = decode_record(*json);
  ASSERT_TRUE(back);
  const auto& reason = std::get<RunEnded>(back->body).reason;
  EXPECT_EQ(reason.substr(0, 12), "bad?? yaml\nx");
  EXPECT_LE(reason.size(), limits::kReasonBytes);
  // A record that would not fit an event is refused at encoding time.
  LogSegment seg;
  seg.attempt = 1;
  seg.job = "build";
  seg.data = std::string(limits::kSegmentDataBytes + 1, 'x');
  EXPECT_FALSE(encode_record(Record{run(), seg}));
  seg.data = std::string(limits::kSegmentDataBytes, 'x');
  EXPECT_TRUE(encode_record(Record{run(), seg}));
}

TEST(CiRecords, LiveChunks) {
  LiveChunk c{run(), 1, "build", 4096, std::string("line\n\x1b[31mred\x00", 14)};
  auto json = encode_live_chunk(c);
  ASSERT_TRUE(json);
  auto back = decode_live_chunk(*json);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->data, c.data);
  EXPECT_EQ(back->offset, 4096u);
  c.data = std::string(limits::kLiveChunkBytes + 1, 'x');
  EXPECT_FALSE(encode_live_chunk(c));
  c.data = std::string(limits::kLiveChunkBytes, 'x');
  ASSERT_TRUE(encode_live_chunk(c));
  EXPECT_LE(encode_live_chunk(c)->size(), limits::kEventBytes);
  EXPECT_FALSE(decode_live_chunk(R"({"v":1,"run":"x"})"));
}
