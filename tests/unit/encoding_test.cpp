#include <gtest/gtest.h>

#include "mesh/base/encoding.hpp"

using namespace mesh;

TEST(Encoding, HexRoundTrip) {
  Bytes data{0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(to_hex(data), "0001abff");
  EXPECT_EQ(from_hex("0001ABff"), data);
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
}

TEST(Encoding, Base64UrlMatchesRfc4648Vectors) {
  EXPECT_EQ(to_base64url(as_bytes("")), "");
  EXPECT_EQ(to_base64url(as_bytes("f")), "Zg");
  EXPECT_EQ(to_base64url(as_bytes("fo")), "Zm8");
  EXPECT_EQ(to_base64url(as_bytes("foo")), "Zm9v");
  EXPECT_EQ(to_base64url(as_bytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(to_base64(as_bytes("fo")), "Zm8=");
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(from_base64url(to_base64url(all)), all);
}

TEST(Encoding, Base64UrlRejectsNonCanonicalAndGarbage) {
  EXPECT_FALSE(from_base64url("Zh"));  // stray low bits
  EXPECT_FALSE(from_base64url("Z"));   // impossible length
  EXPECT_FALSE(from_base64url("Zm9v+"));
  EXPECT_FALSE(from_base64url("Zm=="));
}

TEST(Encoding, Base32RoundTripAndRejects) {
  EXPECT_EQ(to_base32(as_bytes("foobar")), "mzxw6ytboi");
  Bytes key(32, 0x5a);
  auto text = to_base32(key);
  EXPECT_EQ(text.size(), 52u);
  EXPECT_EQ(from_base32(text), key);
  EXPECT_FALSE(from_base32("mzxw6ytbo1"));
  EXPECT_FALSE(from_base32("mzxw6ytboj"));  // non-zero padding bits
}

TEST(Encoding, HexRefusesAnythingButHexDigits) {
  EXPECT_FALSE(from_hex("0g"));
  EXPECT_FALSE(from_hex("00 1"));
  EXPECT_FALSE(from_hex("0x00"));
  EXPECT_EQ(from_hex(""), Bytes{});
  EXPECT_EQ(to_hex({}), "");
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(from_hex(to_hex(all)), all);
}

TEST(Encoding, StandardBase64HasPaddingAndTheStandardAlphabet) {
  EXPECT_EQ(to_base64(as_bytes("")), "");
  EXPECT_EQ(to_base64(as_bytes("f")), "Zg==");
  EXPECT_EQ(to_base64(as_bytes("foob")), "Zm9vYg==");
  EXPECT_EQ(to_base64(as_bytes("fooba")), "Zm9vYmE=");
  Bytes high{0xfb, 0xff, 0xfe};
  EXPECT_EQ(to_base64(high), "+//+");
  EXPECT_EQ(to_base64url(high), "-__-");
  EXPECT_EQ(from_base64url("-__-"), high);
  EXPECT_FALSE(from_base64url("+//+"));  // the standard alphabet is not base64url
  EXPECT_FALSE(from_base64url("Zg=="));  // no padding in base64url
}
