#include <gtest/gtest.h>

#include <set>

#include "mesh/gossip/event.hpp"

using namespace mesh;
using namespace mesh::gossip;
using mesh::identity::Identity;

namespace {
constexpr std::uint64_t kNow = 1'700'000'000'000;

Event make(const Identity& id, std::uint64_t seq = 1, std::string_view topic = "roster",
           Bytes payload = {1, 2, 3}, std::uint64_t wall = kNow) {
  auto ev = sign_event(id, seq, 42, wall, topic, payload);
  EXPECT_TRUE(ev) << ev.error().message;
  return *ev;
}

MemberCheck only(const Identity& id) {
  auto key = id.public_key();
  return [key](const PublicKey& k) { return k == key; };
}

RejectReason reason_of(const Status& st) {
  return st ? RejectReason::none : reject_reason(st.error());
}
}  // namespace

TEST(GossipEvent, RoundTripsAndVerifies) {
  auto id = Identity::generate();
  auto ev = make(id, 7, "ci.run-1_x", Bytes(1000, 0xab));
  Bytes wire = encode(ev);
  ASSERT_EQ(wire.size(), kEventOverhead + ev.topic.size() + 1000);
  EXPECT_EQ(wire[0], kEventVersion);
  auto back = decode(wire);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, ev);
  EXPECT_EQ(encode(*back), wire);  // canonical
  EXPECT_TRUE(verify(*back, kNow, only(id)));
}

TEST(GossipEvent, FixedLayoutIsBigEndian) {
  auto id = Identity::generate();
  auto ev = make(id, 0x0102030405060708, "t", {});
  auto wire = encode(ev);
  ASSERT_EQ(wire.size(), kMinEventSize);
  EXPECT_EQ(wire[33], 0x01);
  EXPECT_EQ(wire[40], 0x08);
  EXPECT_EQ(wire[57], 1);    // topic length
  EXPECT_EQ(wire[58], 't');  // topic
  EXPECT_EQ(wire[62], 0);    // payload length, low byte
}

TEST(GossipEvent, EmptyAndMaxPayload) {
  auto id = Identity::generate();
  for (std::size_t n : {std::size_t{0}, kMaxPayload}) {
    auto ev = make(id, 1, "x", Bytes(n, 7));
    auto back = decode(encode(ev));
    ASSERT_TRUE(back);
    EXPECT_TRUE(verify(*back, kNow, only(id)));
  }
}

TEST(GossipEvent, RejectsForgedSignature) {
  auto id = Identity::generate();
  auto ev = make(id);
  ev.payload[0] ^= 1;
  EXPECT_EQ(reason_of(verify(ev, kNow, only(id))), RejectReason::bad_signature);
  ev = make(id);
  ev.signature[10] ^= 1;
  EXPECT_EQ(reason_of(verify(ev, kNow, only(id))), RejectReason::bad_signature);
  // Claiming someone else's origin.
  auto other = Identity::generate();
  ev = make(id);
  ev.origin = other.public_key();
  EXPECT_EQ(reason_of(verify(ev, kNow, only(other))), RejectReason::bad_signature);
  // Every field is covered.
  for (int field = 0; field < 4; ++field) {
    ev = make(id);
    if (field == 0) ev.seq++;
    if (field == 1) ev.lamport++;
    if (field == 2) ev.wall_ms--;
    if (field == 3) ev.topic = "rostes";
    EXPECT_EQ(reason_of(verify(ev, kNow, only(id))), RejectReason::bad_signature) << field;
  }
}

TEST(GossipEvent, RejectsNonMember) {
  auto id = Identity::generate();
  auto stranger = Identity::generate();
  EXPECT_EQ(reason_of(verify(make(id), kNow, only(stranger))), RejectReason::not_member);
  EXPECT_EQ(reason_of(verify(make(id), kNow, nullptr)), RejectReason::not_member);
}

TEST(GossipEvent, RejectsFarFutureButAcceptsSmallSkewAndPast) {
  auto id = Identity::generate();
  auto m = only(id);
  EXPECT_EQ(reason_of(verify(make(id, 1, "t", {}, kNow + 3'600'000), kNow, m)),
            RejectReason::future);
  EXPECT_EQ(reason_of(verify(make(id, 1, "t", {}, kNow + kMaxFutureSkewMs + 1), kNow, m)),
            RejectReason::future);
  EXPECT_TRUE(verify(make(id, 1, "t", {}, kNow + kMaxFutureSkewMs), kNow, m));
  EXPECT_TRUE(verify(make(id, 1, "t", {}, 0), kNow, m));  // old events replicate late
}

TEST(GossipEvent, RejectsOversize) {
  auto id = Identity::generate();
  auto big = sign_event(id, 1, 1, kNow, "t", Bytes(kMaxPayload + 1));
  ASSERT_FALSE(big);
  EXPECT_EQ(reject_reason(big.error()), RejectReason::oversize);

  // A peer that sends one anyway: the length field alone is enough to refuse it.
  auto ev = make(id, 1, "t", Bytes(kMaxPayload));
  ev.payload.push_back(0);
  EXPECT_EQ(reason_of(verify(ev, kNow, only(id))), RejectReason::oversize);
  EXPECT_TRUE(encode(ev).empty());
  auto wire = encode(make(id, 1, "t", Bytes(kMaxPayload)));
  wire[59 + 3] += 1;  // payload length 65537
  auto d = decode(wire);
  ASSERT_FALSE(d);
  EXPECT_EQ(reject_reason(d.error()), RejectReason::oversize);
  Bytes huge(kMaxEventSize + 1, 0);
  huge[0] = kEventVersion;
  d = decode(huge);
  ASSERT_FALSE(d);
  EXPECT_EQ(reject_reason(d.error()), RejectReason::oversize);
}

TEST(GossipEvent, RejectsTruncationAtEveryLength) {
  auto id = Identity::generate();
  auto wire = encode(make(id, 3, "issues", Bytes(100, 9)));
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto d = decode(std::span(wire).first(n));
    ASSERT_FALSE(d) << n;
    EXPECT_EQ(reject_reason(d.error()), RejectReason::malformed) << n;
  }
}

TEST(GossipEvent, RejectsTrailingGarbageAndWrongVersion) {
  auto id = Identity::generate();
  auto wire = encode(make(id));
  auto extra = wire;
  extra.push_back(0);
  auto d = decode(extra);
  ASSERT_FALSE(d);
  EXPECT_EQ(reject_reason(d.error()), RejectReason::malformed);

  for (std::uint8_t v : {0, 2, 255}) {
    auto other = wire;
    other[0] = v;
    d = decode(other);
    ASSERT_FALSE(d);
    EXPECT_EQ(reject_reason(d.error()), RejectReason::bad_version);
  }
}

TEST(GossipEvent, RejectsBadTopicsAndSeqZero) {
  auto id = Identity::generate();
  for (std::string_view t : {"", "Roster", "1abc", ".x", "a/b", "a b", "ä",
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    auto ev = sign_event(id, 1, 1, kNow, t, {});
    ASSERT_FALSE(ev) << t;
    EXPECT_EQ(reject_reason(ev.error()), RejectReason::malformed);
  }
  EXPECT_TRUE(valid_topic(std::string(64, 'a')));
  EXPECT_TRUE(valid_topic("a0._-"));
  EXPECT_FALSE(sign_event(id, 0, 1, kNow, "t", {}));

  // Bytes on the wire: upper-case topic, zero topic length, seq 0.
  auto wire = encode(make(id, 1, "topic"));
  auto bad = wire;
  bad[58] = 'T';
  EXPECT_EQ(reject_reason(decode(bad).error()), RejectReason::malformed);
  bad = wire;
  bad[57] = 0;
  EXPECT_EQ(reject_reason(decode(bad).error()), RejectReason::malformed);
  bad = wire;
  bad[40] = 0;  // seq 1 -> 0
  EXPECT_EQ(reject_reason(decode(bad).error()), RejectReason::malformed);
}

TEST(GossipEvent, ReasonNamesAreDistinct) {
  std::set<std::string_view> names;
  for (int r = 0; r <= static_cast<int>(RejectReason::io); ++r) {
    names.insert(to_string(static_cast<RejectReason>(r)));
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(RejectReason::io) + 1);
}
