#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "mesh/gossip/roster.hpp"

using namespace mesh;
using namespace mesh::gossip;
using mesh::identity::Identity;

namespace {

struct Signer {
  Identity id = Identity::generate();
  std::uint64_t seq = 0;
  const PublicKey& key() const { return id.public_key(); }
};

Event op_event(Signer& by, std::uint64_t lamport, const RosterOp& op) {
  auto e = sign_event(by.id, ++by.seq, lamport, 1000, kRosterTopic, encode_roster_op(op));
  EXPECT_TRUE(e);
  return *e;
}

Event admit(Signer& by, std::uint64_t lamport, const Signer& who, std::string name = {}) {
  RosterOp op;
  op.kind = RosterOp::Kind::admit;
  op.key = who.key();
  op.name = std::move(name);
  return op_event(by, lamport, op);
}

Event remove(Signer& by, std::uint64_t lamport, const Signer& who) {
  RosterOp op;
  op.kind = RosterOp::Kind::remove;
  op.key = who.key();
  return op_event(by, lamport, op);
}

std::set<PublicKey> keys(const Roster& r) {
  std::set<PublicKey> out;
  for (const auto& m : r.members()) out.insert(m.key);
  return out;
}

}  // namespace

TEST(GossipRoster, OpJsonRoundTripAndValidation) {
  Signer a;
  RosterOp op;
  op.kind = RosterOp::Kind::admit;
  op.key = a.key();
  op.name = "bob";
  op.addresses = {"10.0.0.2:7979", "[::1]:7979"};
  auto back = decode_roster_op(encode_roster_op(op));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->kind, op.kind);
  EXPECT_EQ(back->key, op.key);
  EXPECT_EQ(back->name, "bob");
  EXPECT_EQ(back->addresses, op.addresses);

  auto bad = [](const std::string& text) { return !decode_roster_op(as_bytes(text)); };
  std::string id = a.key().id();
  EXPECT_TRUE(bad(""));
  EXPECT_TRUE(bad("[]"));
  EXPECT_TRUE(bad("{\"op\":\"admit\"}"));
  EXPECT_TRUE(bad("{\"op\":\"promote\",\"key\":\"" + id + "\"}"));
  EXPECT_TRUE(bad("{\"op\":\"admit\",\"key\":\"mesh:zzz\"}"));
  EXPECT_TRUE(bad("{\"op\":\"admit\",\"key\":\"" + id + "\",\"name\":\"\\u0007\"}"));
  EXPECT_TRUE(bad("{\"op\":\"admit\",\"key\":\"" + id + "\",\"addresses\":[\"nope\"]}"));
  EXPECT_TRUE(bad("{\"op\":\"rename\",\"key\":\"" + id + "\"}"));
  EXPECT_TRUE(bad("{\"op\":\"addresses\",\"key\":\"" + id + "\"}"));
  std::string many = "{\"op\":\"addresses\",\"key\":\"" + id + "\",\"addresses\":[";
  for (int i = 0; i < 17; ++i) many += std::string(i ? "," : "") + "\"h:1\"";
  EXPECT_TRUE(bad(many + "]}"));
  EXPECT_FALSE(bad("{\"op\":\"remove\",\"key\":\"" + id + "\",\"extra\":1}"));
}

// A admits B, B admits A (the joiner admits its inviter), B admits C, C admits B. Every node
// derives {A, B, C} whatever the order the events arrive in; C reaches A only through B.
TEST(GossipRoster, TransitiveAndOrderIndependent) {
  Signer a, b, c;
  std::vector<Event> events{admit(a, 1, b, "bob"), admit(b, 2, a, "alice"), admit(b, 3, c, "carol"),
                            admit(c, 4, b)};
  std::set<PublicKey> team{a.key(), b.key(), c.key()};
  std::mt19937 rng(7);
  for (int round = 0; round < 24; ++round) {
    std::shuffle(events.begin(), events.end(), rng);
    for (const Signer* self : {&a, &b, &c}) {
      Roster r(self->key());
      for (const auto& e : events) r.apply(e);
      EXPECT_EQ(keys(r), team);
      EXPECT_EQ(r.find(a.key())->name, "alice");
      EXPECT_EQ(r.find(b.key())->name, "bob");
    }
  }
  // Without B's admits nobody vouches for A at C: only C itself (self is always a member).
  Roster lonely(c.key());
  lonely.apply(admit(a, 9, b));
  EXPECT_FALSE(lonely.is_member(a.key()));
  EXPECT_FALSE(lonely.is_member(b.key()));
  EXPECT_TRUE(lonely.is_member(c.key()));
  EXPECT_EQ(lonely.members().size(), 1u);
}

TEST(GossipRoster, NonMemberAdmitsCountForNothing) {
  Signer a, x, y;
  Roster r(a.key());
  EXPECT_FALSE(r.apply(admit(x, 1, y)));
  EXPECT_FALSE(r.is_member(x.key()));
  EXPECT_FALSE(r.is_member(y.key()));
  EXPECT_TRUE(r.apply(admit(a, 2, x)));  // now x is a member, and so is everyone x admitted
  EXPECT_TRUE(r.is_member(y.key()));
  // Re-applying the same (origin, seq) changes nothing.
  Event again = admit(a, 3, y);
  EXPECT_FALSE(r.apply(again) && r.apply(again));
}

TEST(GossipRoster, RemovalTombstones) {
  Signer a, b, c, d;
  std::vector<Event> base{admit(a, 1, b), admit(b, 2, a), admit(a, 3, c), admit(c, 4, a)};
  std::vector<Event> later{remove(a, 10, c), admit(c, 11, d),  // after its removal: ignored
                           remove(c, 12, b),                   // ditto
                           remove(b, 13, b)};                  // a key cannot remove itself
  for (const Signer* self : {&a, &b}) {
    Roster r(self->key());
    r.apply(base);
    EXPECT_TRUE(r.is_member(c.key()));
    EXPECT_TRUE(r.apply(later));
    EXPECT_FALSE(r.is_member(c.key()));
    EXPECT_TRUE(r.is_removed(c.key()));
    EXPECT_FALSE(r.is_member(d.key()));
    EXPECT_TRUE(r.is_member(b.key()));
    EXPECT_FALSE(r.is_removed(b.key()));
    EXPECT_FALSE(r.find(c.key()));
    // A later admit beats the older tombstone.
    EXPECT_TRUE(r.apply(admit(b, 20, c)));
    EXPECT_TRUE(r.is_member(c.key()));
    EXPECT_FALSE(r.is_removed(c.key()));
  }
  // The removed node still counts itself a member, but knows it was removed.
  Roster rc(c.key());
  rc.apply(base);
  rc.apply(later);
  EXPECT_TRUE(rc.is_member(c.key()));
  EXPECT_TRUE(rc.is_removed(c.key()));

  // An admit with a higher order than the tombstone wins, a lower one loses, in any order.
  Signer e;
  std::vector<Event> race{admit(b, 30, e), remove(a, 31, e), admit(a, 29, e)};
  for (int i = 0; i < 3; ++i) {
    std::rotate(race.begin(), race.begin() + 1, race.end());
    Roster r(b.key());
    r.apply(base);
    r.apply(race);
    EXPECT_FALSE(r.is_member(e.key()));
  }
}

TEST(GossipRoster, RemovedMembersEarlierAdmitsStand) {
  Signer a, b, c;
  Roster r(a.key());
  r.apply(admit(a, 1, b));
  r.apply(admit(b, 2, c));  // before b's removal: stands
  r.apply(remove(a, 3, b));
  EXPECT_FALSE(r.is_member(b.key()));
  EXPECT_TRUE(r.is_member(c.key()));
}

TEST(GossipRoster, NamesAddressesAndLookup) {
  Signer a, b, c;
  Roster r(a.key());
  r.apply(admit(a, 1, b, "bob"));
  r.apply(admit(a, 2, c, "carol"));
  RosterOp ren;
  ren.kind = RosterOp::Kind::rename;
  ren.key = b.key();
  ren.name = "robert";
  r.apply(op_event(b, 5, ren));
  ren.name = "bobby";
  r.apply(op_event(a, 4, ren));  // older lamport: loses
  RosterOp addr;
  addr.kind = RosterOp::Kind::addresses;
  addr.key = b.key();
  addr.addresses = {"10.0.0.2:7979"};
  r.apply(op_event(b, 6, addr));
  auto m = r.find(b.key());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "robert");
  EXPECT_EQ(m->addresses, std::vector<std::string>{"10.0.0.2:7979"});
  EXPECT_EQ(m->since_lamport, 1u);

  EXPECT_EQ(r.find_by_name("robert")->key, b.key());
  EXPECT_EQ(r.find_by_name(c.key().id())->key, c.key());
  EXPECT_EQ(r.find_by_name(c.key().id().substr(0, 14))->key, c.key());
  EXPECT_EQ(r.find_by_name(c.key().id().substr(5, 10))->key, c.key());
  EXPECT_FALSE(r.find_by_name("mesh:"));
  EXPECT_FALSE(r.find_by_name("nobody"));
  // Two members with one name: ambiguous.
  ren.key = c.key();
  ren.name = "robert";
  r.apply(op_event(c, 7, ren));
  EXPECT_FALSE(r.find_by_name("robert"));
  // Non-roster topics and garbage payloads are ignored.
  auto junk = sign_event(a.id, ++a.seq, 8, 1, "roster", as_bytes("nope"));
  EXPECT_FALSE(r.apply(*junk));
  auto other = sign_event(a.id, ++a.seq, 9, 1, "ci", encode_roster_op(ren));
  EXPECT_FALSE(r.apply(*other));
}

// Issue #16: a member's loopback addresses lead to the dialler's own host, so the roster says
// which host and network namespace announced them and only nodes with the same tag use them.
TEST(GossipRoster, AddressesCarryTheAnnouncersHostAndLoopbackStaysOnIt) {
  Signer a, b;
  RosterOp op;
  op.kind = RosterOp::Kind::addresses;
  op.key = b.key();
  op.addresses = {"127.0.0.1:7979", "10.0.0.2:7979"};
  op.host = "0123456789abcdef0123456789abcdef";
  auto back = decode_roster_op(encode_roster_op(op));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->host, op.host);
  std::string id = b.key().id();
  EXPECT_FALSE(decode_roster_op(
      as_bytes("{\"op\":\"addresses\",\"key\":\"" + id + "\",\"addresses\":[],\"host\":\"XYZ\"}")));
  EXPECT_FALSE(
      decode_roster_op(as_bytes("{\"op\":\"addresses\",\"key\":\"" + id +
                                "\",\"addresses\":[],\"host\":\"" + std::string(33, 'a') + "\"}")));

  Roster r(a.key());
  r.apply(admit(a, 1, b, "bob"));
  r.apply(op_event(b, 2, op));
  auto m = r.find(b.key());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->host, op.host);
  // Same host: everything; another host: not the loopback address.
  EXPECT_TRUE(address_usable(*m, "127.0.0.1:7979", op.host));
  EXPECT_FALSE(address_usable(*m, "127.0.0.1:7979", "ffff"));
  EXPECT_FALSE(address_usable(*m, "[::1]:7979", "ffff"));
  EXPECT_FALSE(address_usable(*m, "localhost:7979", "ffff"));
  EXPECT_TRUE(address_usable(*m, "10.0.0.2:7979", "ffff"));
  // A member that never said (an older announce, or its admitter's): unknown, kept.
  Member unknown;
  EXPECT_TRUE(address_usable(unknown, "127.0.0.1:7979", "ffff"));
}
