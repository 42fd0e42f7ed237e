#include <gtest/gtest.h>

#include "mesh/gossip/link_protocol.hpp"

using namespace mesh;
using namespace mesh::gossip;
using mesh::identity::Identity;

namespace {

Event ev(const Identity& id, std::uint64_t seq, std::size_t payload = 10) {
  auto e = sign_event(id, seq, seq, 1000, "refs", Bytes(payload, 7));
  EXPECT_TRUE(e);
  return *e;
}

VersionVector sample_vv() {
  VersionVector vv;
  for (int i = 0; i < 3; ++i) vv[Identity::generate().public_key()] = 10 + i;
  return vv;
}

template <typename T>
T round_trip(const LinkMessage& m) {
  std::string bytes = encode_link(m);
  EXPECT_FALSE(bytes.empty());
  auto back = decode_link(bytes);
  EXPECT_TRUE(back) << back.error().message;
  EXPECT_TRUE(std::holds_alternative<T>(*back));
  return std::get<T>(*back);
}

Errc decode_error(std::string_view bytes) {
  auto r = decode_link(bytes);
  EXPECT_FALSE(r);
  return r ? Errc::internal : r.error().code;
}

}  // namespace

TEST(GossipLinkProtocol, RoundTrips) {
  auto id = Identity::generate();
  HelloMsg h;
  h.name = "alice";
  h.vv = sample_vv();
  auto h2 = round_trip<HelloMsg>(h);
  EXPECT_EQ(h2.version, kLinkProtocolVersion);
  EXPECT_EQ(h2.name, "alice");
  EXPECT_EQ(h2.vv, h.vv);

  EXPECT_EQ(round_trip<VvMsg>(VvMsg{h.vv}).vv, h.vv);
  EXPECT_TRUE(round_trip<VvMsg>(VvMsg{}).vv.empty());

  EventsMsg em;
  for (int i = 1; i <= 3; ++i) em.events.push_back(encode(ev(id, i)));
  EXPECT_EQ(round_trip<EventsMsg>(em).events, em.events);

  LiveMsg lm{encode(ev(id, 9))};
  EXPECT_EQ(round_trip<LiveMsg>(lm).event, lm.event);

  WantMsg w{id.public_key(), 42};
  auto w2 = round_trip<WantMsg>(w);
  EXPECT_EQ(w2.origin, w.origin);
  EXPECT_EQ(w2.from_seq, 42u);
}

TEST(GossipLinkProtocol, RefusesBrokenInput) {
  auto id = Identity::generate();
  EXPECT_EQ(decode_error(""), Errc::invalid);
  EXPECT_EQ(decode_error("\x09"), Errc::invalid);  // unknown type
  EXPECT_EQ(decode_error(std::string(kMaxLinkMessage + 1, '\x02')), Errc::limit);

  HelloMsg h;
  h.name = "bob";
  h.vv = sample_vv();
  std::string hello = encode_link(h);
  std::string v2 = hello;
  v2[1] = 2;
  EXPECT_EQ(decode_error(v2), Errc::unsupported);
  EXPECT_EQ(decode_error(hello + "x"), Errc::invalid);
  // Every truncation of every kind of message is refused, never misread as a shorter one.
  EventsMsg em;
  em.events = {encode(ev(id, 1)), encode(ev(id, 2))};
  for (const std::string& whole :
       {hello, encode_link(VvMsg{h.vv}), encode_link(em), encode_link(LiveMsg{encode(ev(id, 3))}),
        encode_link(WantMsg{id.public_key(), 1})}) {
    // LIVE frames its event by the message end, so the event decoder is what catches it.
    auto refused = [](std::string_view bytes) {
      auto m = decode_link(bytes);
      return !m || (std::holds_alternative<LiveMsg>(*m) && !decode(std::get<LiveMsg>(*m).event));
    };
    for (std::size_t n = 0; n < whole.size(); ++n) {
      EXPECT_TRUE(refused(std::string_view(whole).substr(0, n))) << n;
    }
    EXPECT_TRUE(refused(whole + '\0'));
  }
  // Version vector keys must ascend and seqs be non-zero.
  std::string vv = encode_link(VvMsg{h.vv});
  std::string swapped = vv.substr(0, 3) + vv.substr(3 + 40, 40) + vv.substr(3, 40) + vv.substr(83);
  EXPECT_EQ(decode_error(swapped), Errc::invalid);
  std::string zero = vv;
  for (int i = 0; i < 8; ++i) zero[3 + 32 + i] = 0;
  EXPECT_EQ(decode_error(zero), Errc::invalid);
  // An events message with zero events, a count larger than the bytes, a length out of range.
  EXPECT_EQ(decode_error(std::string("\x03\x00\x00", 3)), Errc::invalid);
  std::string lie = encode_link(em);
  lie[1] = '\x7f';
  EXPECT_EQ(decode_error(lie), Errc::invalid);
  std::string tiny("\x03\x00\x01\x00\x00\x00\x05xxxxx", 12);
  EXPECT_EQ(decode_error(tiny), Errc::invalid);
  EXPECT_EQ(decode_error(std::string("\x04short")), Errc::invalid);
  std::string want0 = encode_link(WantMsg{id.public_key(), 1});
  want0.back() = 0;
  EXPECT_EQ(decode_error(want0), Errc::invalid);
  // Encoders refuse what decoders would refuse.
  h.name = std::string(65, 'n');
  EXPECT_TRUE(encode_link(h).empty());
  EXPECT_TRUE(encode_link(EventsMsg{}).empty());
  EXPECT_TRUE(encode_link(WantMsg{id.public_key(), 0}).empty());
  VersionVector big;
  for (std::size_t i = 0; i <= kMaxVersionVectorEntries; ++i) {
    PublicKey k;
    k.bytes[0] = static_cast<std::uint8_t>(i >> 8);
    k.bytes[1] = static_cast<std::uint8_t>(i);
    big[k] = 1;
  }
  EXPECT_TRUE(encode_link(VvMsg{big}).empty());
  big.erase(big.begin());
  EXPECT_FALSE(encode_link(VvMsg{big}).empty());
}

TEST(GossipLinkProtocol, BatcherCutsUnderTheLimit) {
  auto id = Identity::generate();
  EventsBatcher b;
  std::vector<std::string> msgs;
  std::size_t events = 0;
  for (int i = 1; i <= 20; ++i) {
    auto e = ev(id, i, kMaxPayload);
    if (!b.add(e)) {
      msgs.push_back(b.flush());
      ASSERT_TRUE(b.add(e));
    }
  }
  msgs.push_back(b.flush());
  EXPECT_TRUE(b.flush().empty());
  EXPECT_GT(msgs.size(), 1u);
  std::uint64_t next = 1;
  for (const auto& m : msgs) {
    EXPECT_LE(m.size(), kMaxLinkMessage);
    auto d = decode_link(m);
    ASSERT_TRUE(d);
    for (const auto& raw : std::get<EventsMsg>(*d).events) {
      auto e = decode(raw);
      ASSERT_TRUE(e);
      EXPECT_EQ(e->seq, next++);
      ++events;
    }
  }
  EXPECT_EQ(events, 20u);
}
