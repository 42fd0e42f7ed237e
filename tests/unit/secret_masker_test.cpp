#include "secret_masker.hpp"

#include <gtest/gtest.h>

#include <sodium.h>

#include <random>
#include <string>
#include <vector>

using mesh::jobs::SecretMasker;

namespace {

std::string b64(std::string_view s, int variant = sodium_base64_VARIANT_ORIGINAL) {
  std::string out(sodium_base64_encoded_len(s.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()),
                    s.size(), variant);
  out.resize(out.size() - 1);
  return out;
}

std::string mask_all(const std::vector<std::string>& secrets, std::string_view text) {
  SecretMasker m(secrets);
  std::string out = m.feed(text);
  return out + m.finish();
}

// An independent reference: mark every byte any pattern covers, then collapse runs.
std::string reference(const std::vector<std::string>& secrets, const std::string& text) {
  std::vector<char> covered(text.size(), 0);
  for (const auto& s : secrets) {
    for (const auto& p : SecretMasker::patterns_for(s)) {
      for (auto at = text.find(p); at != std::string::npos; at = text.find(p, at + 1)) {
        std::fill(covered.begin() + static_cast<long>(at),
                  covered.begin() + static_cast<long>(at + p.size()), 1);
      }
    }
  }
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!covered[i]) {
      out += text[i];
    } else if (i == 0 || !covered[i - 1]) {
      out += "***";
    }
  }
  return out;
}

const std::string kToken = "s3cr3t-T0ken/with+odd~chars ok";

}  // namespace

TEST(SecretMasker, RawBase64AndUrlForms) {
  const std::vector<std::string> secrets = {kToken};
  EXPECT_EQ(mask_all(secrets, "token=" + kToken + "\n"), "token=***\n");
  EXPECT_EQ(mask_all(secrets, "b64 " + b64(kToken) + " end"), "b64 *** end");
  EXPECT_EQ(
      mask_all(secrets, "raw64 " + b64(kToken, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) + "."),
      "raw64 ***.");
  EXPECT_EQ(mask_all(secrets, "url64 " + b64(kToken, sodium_base64_VARIANT_URLSAFE) + "."),
            "url64 ***.");
  EXPECT_EQ(
      mask_all(secrets, "url64 " + b64(kToken, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + "."),
      "url64 ***.");
  EXPECT_EQ(mask_all(secrets, "q=s3cr3t-T0ken%2Fwith%2Bodd~chars%20ok&x=1"), "q=***&x=1");
  EXPECT_EQ(mask_all(secrets, "q=s3cr3t-T0ken%2fwith%2bodd~chars%20ok&x=1"), "q=***&x=1");
  EXPECT_EQ(mask_all(secrets, "q=s3cr3t-T0ken%2Fwith%2Bodd~chars+ok&x=1"), "q=***&x=1");
  EXPECT_EQ(mask_all(secrets, "nothing to see"), "nothing to see");
  // Adjacent and overlapping occurrences become one mask.
  EXPECT_EQ(mask_all(secrets, kToken + kToken), "***");
  EXPECT_EQ(mask_all({"abcdef", "defghi"}, "xabcdefghiy"), "x***y");
  EXPECT_EQ(mask_all({"abcdef", "ghijkl"}, "abcdef ghijkl"), "*** ***");
}

TEST(SecretMasker, Base64InsideALongerStream) {
  // An HTTP Basic header encodes "user:" + token: the token starts at some offset mod 3. For
  // every offset the characters that depend on the token alone are masked; at most two
  // characters at each edge remain.
  for (std::size_t prefix = 0; prefix < 9; ++prefix) {
    std::string user(prefix, 'u');
    for (std::string_view after : {"", ":", "xy", "tail!"}) {
      std::string enc = b64(user + kToken + std::string(after));
      std::string out = mask_all({kToken}, "Authorization: Basic " + enc);
      SCOPED_TRACE(out);
      ASSERT_NE(out.find("***"), std::string::npos);
      std::string shown = out.substr(std::string("Authorization: Basic ").size());
      // What is left visible is the encoding of the prefix and suffix plus <= 2 mixed chars each.
      std::size_t visible = shown.size() - 3;
      std::size_t expected_max = (prefix * 4 + 2) / 3 + 2 + (after.size() * 4 + 2) / 3 + 2 + 2;
      EXPECT_LE(visible, expected_max) << "prefix " << prefix << " after '" << after << "'";
    }
  }
}

TEST(SecretMasker, SplitAtEveryOffset) {
  const std::vector<std::string> secrets = {kToken, "another-secret-value", "pw12"};
  std::string text = "start " + kToken + " mid " + b64(kToken) +
                     " q=" + "s3cr3t-T0ken%2Fwith%2Bodd~chars%20ok" + " b64(" +
                     b64("me:" + kToken) + ") another-secret-value pw12pw12 end\n";
  const std::string whole = mask_all(secrets, text);
  ASSERT_EQ(whole, reference(secrets, text));
  for (const auto& p : SecretMasker::patterns_for(kToken))
    EXPECT_EQ(whole.find(p), std::string::npos) << p;
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    SecretMasker m(secrets);
    std::string out = m.feed(std::string_view(text).substr(0, cut));
    EXPECT_LE(m.held(), m.longest_pattern() - 1);
    out += m.feed(std::string_view(text).substr(cut));
    EXPECT_LE(m.held(), m.longest_pattern() - 1);
    out += m.finish();
    ASSERT_EQ(out, whole) << "split at " << cut;
  }
  // Byte by byte, and in random chunks.
  SecretMasker bytes(secrets);
  std::string out;
  for (char c : text) out += bytes.feed(std::string_view(&c, 1));
  out += bytes.finish();
  EXPECT_EQ(out, whole);
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    SecretMasker m(secrets);
    std::string o;
    for (std::size_t i = 0; i < text.size();) {
      std::size_t n = 1 + rng() % 40;
      o += m.feed(std::string_view(text).substr(i, n));
      i += n;
    }
    o += m.finish();
    ASSERT_EQ(o, whole);
  }
}

TEST(SecretMasker, RandomStreamsMatchTheReference) {
  std::mt19937 rng(5);
  const std::string alphabet = "abc%2F+/=";
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> secrets;
    for (int k = 0; k < 3; ++k) {
      std::string s;
      std::size_t n = 4 + rng() % 6;
      for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
      secrets.push_back(s);
    }
    std::string text;
    for (int k = 0; k < 20; ++k) {
      switch (rng() % 4) {
        case 0:
          text += secrets[rng() % 3];
          break;
        case 1:
          text += b64(secrets[rng() % 3]);
          break;
        default:
          text += alphabet[rng() % alphabet.size()];
      }
    }
    std::string want = reference(secrets, text);
    SecretMasker m(secrets);
    std::string got;
    for (std::size_t i = 0; i < text.size();) {
      std::size_t n = rng() % 7;
      got += m.feed(std::string_view(text).substr(i, n));
      i += n;
    }
    got += m.finish();
    ASSERT_EQ(got, want) << text;
  }
}

TEST(SecretMasker, ShortSecretsAndMultiLineValues) {
  EXPECT_TRUE(SecretMasker::patterns_for("abc").empty());
  EXPECT_EQ(mask_all({"abc", ""}, "abc abc"), "abc abc");  // ignored: too short to mask usefully
  SecretMasker none({});
  EXPECT_EQ(none.feed("passes through at once"), "passes through at once");
  EXPECT_EQ(none.held(), 0u);
  const std::string key =
      "-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\nshort\r\nQWERTYUIOPasdf\n-----END "
      "KEY-----\n";
  std::string out =
      mask_all({key}, "cat key: AAAAB3NzaC1yc2EAAAADAQABAAABAQ then QWERTYUIOPasdf and short\n");
  EXPECT_EQ(out, "cat key: *** then *** and short\n");  // lines of 8+ bytes are masked alone
  EXPECT_EQ(mask_all({key}, "whole:" + key), "whole:***");
}

TEST(SecretMasker, FinishFlushesAndStops) {
  SecretMasker m({kToken});
  std::string head = m.feed("partial s3cr3t");
  EXPECT_LT(head.size(), std::string("partial s3cr3t").size());  // could be the start of the token
  EXPECT_EQ(head + m.finish(), "partial s3cr3t");
  EXPECT_EQ(m.feed("more"), "");
  EXPECT_EQ(m.finish(), "");
  // Binary output passes unchanged.
  std::string bin;
  for (int i = 0; i < 256; ++i) bin += static_cast<char>(i);
  EXPECT_EQ(mask_all({kToken}, bin), bin);
}
