// The invite book (core/app/src/team/invite_book): issuing, single use across reloads, expiry
// on an injected clock, and the waiters behind `mesh invite --wait`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "invite_book.hpp"
#include "join_proof.hpp"

using namespace mesh;
using namespace mesh::app::team;
using mesh::identity::Identity;
namespace fs = std::filesystem;

namespace {

struct Fixture : ::testing::Test {
  fs::path dir =
      fs::temp_directory_path() / ("mesh-invites-" + std::to_string(::getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  Identity inviter = Identity::generate();
  Identity joiner = Identity::generate();
  std::atomic<std::uint64_t> now_ms{1'700'000'000'000};
  std::function<std::uint64_t()> clock = [this] { return now_ms.load(); };

  Fixture() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Fixture() override { fs::remove_all(dir); }
  fs::path file() const { return dir / "invites.json"; }

  JoinMac mac_for(const IssuedInvite& inv, const Identity& who) const {
    return join_mac(inv.secret, inviter.public_key(), who.public_key());
  }
};

TEST_F(Fixture, IssuedTokenCarriesTheAddressesExpiryAndAKnownSecret) {
  InviteBook book(file(), clock);
  auto inv = book.issue(inviter, "alice", {"10.0.0.1:7979", "[fd00::1]:7979"}, 600);
  ASSERT_TRUE(inv) << inv.error().message;
  EXPECT_EQ(inv->expires_at, now_ms / 1000 + 600);
  auto token = gossip::parse_token(inv->token, now_ms / 1000);
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_EQ(token->addresses, inv->addresses);
  EXPECT_EQ(token->name, "alice");
  EXPECT_EQ(token->secret, inv->secret);
  EXPECT_EQ(token->inviter, inviter.public_key());
  EXPECT_EQ(book.state(inv->secret).kind, InviteState::Kind::open);
  // Persisted before it is handed out, and private to the user.
  EXPECT_TRUE(fs::exists(file()));
}

TEST_F(Fixture, BadTtlsAreRefused) {
  InviteBook book(file(), clock);
  EXPECT_EQ(book.issue(inviter, "alice", {"1.2.3.4:1"}, 0).error().code, Errc::invalid);
  EXPECT_EQ(book.issue(inviter, "alice", {"1.2.3.4:1"}, kMaxInviteTtlSeconds + 1).error().code,
            Errc::invalid);
  EXPECT_TRUE(book.issue(inviter, "alice", {"1.2.3.4:1"}, kMaxInviteTtlSeconds));
}

TEST_F(Fixture, ASecretBurnsOnceAlsoAcrossAReload) {
  IssuedInvite inv;
  {
    InviteBook book(file(), clock);
    auto issued = book.issue(inviter, "alice", {"127.0.0.1:7979"}, 600);
    ASSERT_TRUE(issued);
    inv = *issued;
    auto burnt = book.burn(inviter.public_key(), joiner.public_key(), mac_for(inv, joiner));
    ASSERT_TRUE(burnt) << burnt.error().message;
    EXPECT_EQ(*burnt, inv.secret);
  }
  InviteBook reopened(file(), clock);
  auto again = reopened.burn(inviter.public_key(), joiner.public_key(), mac_for(inv, joiner));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::denied);
  EXPECT_NE(again.error().message.find("already used"), std::string::npos);
  EXPECT_EQ(reopened.state(inv.secret).kind, InviteState::Kind::used);
}

TEST_F(Fixture, AWrongMacMatchesNoInvite) {
  InviteBook book(file(), clock);
  auto inv = book.issue(inviter, "alice", {"127.0.0.1:7979"}, 600);
  ASSERT_TRUE(inv);
  // The MAC binds the joiner's key: another key with the same secret does not match.
  Identity other = Identity::generate();
  auto wrong = book.burn(inviter.public_key(), joiner.public_key(), mac_for(*inv, other));
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("unknown invite"), std::string::npos);
  EXPECT_EQ(book.state(inv->secret).kind, InviteState::Kind::open) << "nothing was burnt";
}

TEST_F(Fixture, AnExpiredInviteIsRefusedAndThenForgotten) {
  InviteBook book(file(), clock);
  auto inv = book.issue(inviter, "alice", {"127.0.0.1:7979"}, 60);
  ASSERT_TRUE(inv);
  now_ms += 60'000;
  EXPECT_EQ(book.state(inv->secret).kind, InviteState::Kind::expired);
  auto late = book.burn(inviter.public_key(), joiner.public_key(), mac_for(*inv, joiner));
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().message.find("expired"), std::string::npos);
  // The next issue prunes it.
  ASSERT_TRUE(book.issue(inviter, "alice", {"127.0.0.1:7979"}, 60));
  EXPECT_EQ(book.state(inv->secret).kind, InviteState::Kind::unknown);
}

TEST_F(Fixture, OpenInvitesAreCapped) {
  InviteBook book(file(), clock);
  for (std::size_t i = 0; i < kMaxOpenInvites; ++i) {
    ASSERT_TRUE(book.issue(inviter, "alice", {"127.0.0.1:7979"}, 60)) << i;
  }
  auto over = book.issue(inviter, "alice", {"127.0.0.1:7979"}, 60);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Errc::limit);
  now_ms += 61'000;  // they expire: room again
  EXPECT_TRUE(book.issue(inviter, "alice", {"127.0.0.1:7979"}, 60));
}

TEST_F(Fixture, WaitersLearnWhoUsedTheInvite) {
  InviteBook book(file(), clock);
  auto inv = book.issue(inviter, "alice", {"127.0.0.1:7979"}, 600);
  auto other = book.issue(inviter, "alice", {"127.0.0.1:7979"}, 600);
  ASSERT_TRUE(inv && other);
  std::vector<InviteUse> seen, seen_other;
  auto id = book.wait(inv->secret, [&](const InviteUse& u) { seen.push_back(u); });
  EXPECT_NE(id, 0u);
  book.wait(other->secret, [&](const InviteUse& u) { seen_other.push_back(u); });
  ASSERT_TRUE(book.burn(inviter.public_key(), joiner.public_key(), mac_for(*inv, joiner)));
  EXPECT_TRUE(seen.empty()) << "burnt is not admitted yet";
  book.record_use(inv->secret, {joiner.id(), "bob", "123456", now_ms});
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].id, joiner.id());
  EXPECT_EQ(seen[0].name, "bob");
  EXPECT_EQ(seen[0].code, "123456");
  EXPECT_TRUE(seen_other.empty()) << "another invite's waiter stays waiting";
  // Who used it survives a reload, and a late waiter is answered at once.
  InviteBook reopened(file(), clock);
  auto st = reopened.state(inv->secret);
  ASSERT_TRUE(st.use);
  EXPECT_EQ(st.use->name, "bob");
  std::vector<InviteUse> late;
  reopened.wait(inv->secret, [&](const InviteUse& u) { late.push_back(u); });
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].code, "123456");
}

TEST_F(Fixture, ACancelledWaiterIsNeverCalledAndWaitersAreCapped) {
  InviteBook book(file(), clock);
  auto inv = book.issue(inviter, "alice", {"127.0.0.1:7979"}, 600);
  ASSERT_TRUE(inv);
  int calls = 0;
  std::vector<InviteBook::WaitId> ids;
  for (std::size_t i = 0; i < kMaxInviteWaiters; ++i) {
    ids.push_back(book.wait(inv->secret, [&](const InviteUse&) { ++calls; }));
    ASSERT_NE(ids.back(), 0u);
  }
  EXPECT_EQ(book.wait(inv->secret, [&](const InviteUse&) { ++calls; }), 0u);
  for (auto id : ids) book.cancel(id);
  book.record_use(inv->secret, {joiner.id(), "bob", "000001", now_ms});
  EXPECT_EQ(calls, 0);
}

}  // namespace
