#include <gtest/gtest.h>

#include "mesh/base/encoding.hpp"
#include "mesh/gossip/token.hpp"

using namespace mesh;
using namespace mesh::gossip;
using mesh::identity::Identity;

namespace {
constexpr std::uint64_t kNow = 1'700'000'000;
const std::vector<std::string> kAddrs = {"192.168.1.10:7979", "[fe80::1]:7979", "host.lan:1"};

std::string good(const Identity& id, std::uint64_t expiry = kNow + 600) {
  auto t = make_token(id, kAddrs, TokenSecret{1, 2, 3}, expiry, "alice's laptop");
  EXPECT_TRUE(t) << t.error().message;
  return *t;
}
}  // namespace

TEST(GossipToken, RoundTrip) {
  auto id = Identity::generate();
  auto secret = random_secret();
  auto text = make_token(id, kAddrs, secret, kNow + 600, "alice");
  ASSERT_TRUE(text);
  EXPECT_TRUE(text->starts_with("mesh1."));
  auto t = parse_token(*text, kNow);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->version, kTokenVersion);
  EXPECT_EQ(t->inviter, id.public_key());
  EXPECT_EQ(t->addresses, kAddrs);
  EXPECT_EQ(t->secret, secret);
  EXPECT_EQ(t->expires_at, kNow + 600);
  EXPECT_EQ(t->name, "alice");
  // Still valid at the expiry second; whitespace from copy-paste is fine.
  EXPECT_TRUE(parse_token("  " + *text + "\n", kNow + 600));
  // No addresses is allowed (the joiner may know them otherwise).
  EXPECT_TRUE(parse_token(*make_token(id, {}, secret, kNow + 1, "x"), kNow));
}

TEST(GossipToken, MaximalTokenFitsTheTextLimit) {
  auto id = Identity::generate();
  std::vector<std::string> addrs(kMaxTokenAddresses,
                                 "[" + std::string(kMaxAddressLength - 8, 'a') + "]:65535");
  ASSERT_EQ(addrs[0].size(), kMaxAddressLength);
  auto text = make_token(id, addrs, random_secret(), kNow + 60, std::string(kMaxTokenName, 'n'));
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_LE(text->size(), kMaxTokenText);
  EXPECT_TRUE(parse_token(*text, kNow));
}

TEST(GossipToken, MakeRefusesBadFields) {
  auto id = Identity::generate();
  EXPECT_FALSE(make_token(id, std::vector<std::string>(17, "a:1"), {}, kNow, "x"));
  EXPECT_FALSE(make_token(id, {"no-port"}, {}, kNow, "x"));
  EXPECT_FALSE(make_token(id, {"host:0"}, {}, kNow, "x"));
  EXPECT_FALSE(make_token(id, {"host:65536"}, {}, kNow, "x"));
  EXPECT_FALSE(make_token(id, {":80"}, {}, kNow, "x"));
  EXPECT_FALSE(make_token(id, {"ho st:80"}, {}, kNow, "x"));
  EXPECT_FALSE(make_token(id, {std::string(300, 'a') + ":1"}, {}, kNow, "x"));
  EXPECT_FALSE(make_token(id, {}, {}, kNow, ""));
  EXPECT_FALSE(make_token(id, {}, {}, kNow, std::string(65, 'n')));
  EXPECT_FALSE(make_token(id, {}, {}, kNow, "evil\x1b[2J"));
}

TEST(GossipToken, Expired) {
  auto id = Identity::generate();
  auto t = parse_token(good(id, kNow - 1), kNow);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::denied);
  EXPECT_NE(t.error().message.find("invite token expired at 2023-11-14"), std::string::npos)
      << t.error().message;
}

TEST(GossipToken, TamperedAnyByte) {
  auto id = Identity::generate();
  auto text = good(id);
  auto raw = *from_base64url(text.substr(6));
  // Flip each byte of the payload (keep the version byte so the signature check is reached).
  for (std::size_t i = 1; i < raw.size(); ++i) {
    auto bad = raw;
    bad[i] ^= 0x01;
    auto t = parse_token("mesh1." + to_base64url(bad), kNow);
    ASSERT_FALSE(t) << i;
    EXPECT_TRUE(t.error().code == Errc::crypto || t.error().code == Errc::invalid)
        << i << ": " << t.error().message;
  }
  // A flipped character of the text itself.
  auto bad = text;
  bad[20] = bad[20] == 'A' ? 'B' : 'A';
  auto t = parse_token(bad, kNow);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::crypto);
  EXPECT_EQ(t.error().message, "invite token signature is invalid");
}

TEST(GossipToken, WrongVersion) {
  auto id = Identity::generate();
  auto text = good(id);
  for (std::string other : {"mesh2.", "mesh10.", "mesh0."}) {
    auto t = parse_token(other + text.substr(6), kNow);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, Errc::unsupported);
    EXPECT_EQ(t.error().message, "this token is for a different mesh version");
  }
  auto raw = *from_base64url(text.substr(6));
  raw[0] = 2;
  auto t = parse_token("mesh1." + to_base64url(raw), kNow);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::unsupported);
}

TEST(GossipToken, GarbageAndTruncated) {
  auto id = Identity::generate();
  auto text = good(id);
  for (std::string g : {"", "mesh1.", "mesh1.!!!!", "hello", "mesh.abc", "meshX.abc", "mesh1.A",
                        "https://example.com"}) {
    auto t = parse_token(g, kNow);
    ASSERT_FALSE(t) << g;
    EXPECT_EQ(t.error().code, Errc::invalid) << g;
    EXPECT_EQ(t.error().message, "malformed invite token");
  }
  auto raw = *from_base64url(text.substr(6));
  for (std::size_t n = 1; n < raw.size(); ++n) {
    auto t = parse_token("mesh1." + to_base64url(std::span(raw).first(n)), kNow);
    ASSERT_FALSE(t) << n;
    EXPECT_EQ(t.error().code, Errc::invalid) << n;
  }
  raw.push_back(0);
  EXPECT_EQ(parse_token("mesh1." + to_base64url(raw), kNow).error().code, Errc::invalid);
}

TEST(GossipToken, OverLength) {
  auto t = parse_token("mesh1." + std::string(kMaxTokenText, 'A'), kNow);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::limit);
}

TEST(GossipToken, ConfirmationCode) {
  auto a = Identity::generate(), b = Identity::generate();
  TokenSecret s = random_secret();
  auto code = confirmation_code(a.public_key(), b.public_key(), s);
  EXPECT_EQ(code.size(), 6u);
  EXPECT_TRUE(std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }));
  EXPECT_EQ(code, confirmation_code(a.public_key(), b.public_key(), s));
  // Roles and every input matter (with overwhelming probability).
  auto c = Identity::generate();
  int differ = 0;
  differ += code != confirmation_code(b.public_key(), a.public_key(), s);
  differ += code != confirmation_code(a.public_key(), c.public_key(), s);
  s[0] ^= 1;
  differ += code != confirmation_code(a.public_key(), b.public_key(), s);
  EXPECT_GE(differ, 2);
  // Pinned value, so both implementations of the join agree forever.
  identity::PublicKey zero{}, one{};
  one.bytes.fill(1);
  EXPECT_EQ(confirmation_code(zero, one, TokenSecret{}),
            confirmation_code(zero, one, TokenSecret{}));
}
