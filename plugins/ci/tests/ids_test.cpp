#include "ids.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "crypto.hpp"
#include "names.hpp"
#include "test_util.hpp"
#include "text.hpp"

using namespace mesh::ci;
using namespace mesh::ci::test;

TEST(CiIds, RunIdsAreDerived) {
  auto a = run_id("my-app", "refs/heads/main", sha('a'), trigger_key_push());
  EXPECT_TRUE(valid_run_id(a));
  EXPECT_EQ(a, run_id("my-app", "refs/heads/main", sha('a'), "push"));  // same inputs, same id
  std::set<std::string> ids = {
      a,
      run_id("my-app2", "refs/heads/main", sha('a'), "push"),
      run_id("my-app", "refs/heads/dev", sha('a'), "push"),
      run_id("my-app", "refs/heads/main", sha('b'), "push"),
      run_id("my-app", "refs/heads/main", sha('a'), trigger_key_manual(node('a'), 1, "n1")),
      run_id("my-app", "refs/heads/main", sha('a'), trigger_key_manual(node('a'), 1, "n2"))};
  EXPECT_EQ(ids.size(), 6u);
  // Fields are separated, so moving bytes between them changes the id.
  EXPECT_NE(run_id("ab", "refs/heads/c", sha('a'), "push"),
            run_id("a", "brefs/heads/c", sha('a'), "push"));
  EXPECT_EQ(a, sha256_hex(std::string("mesh-ci-run-v1\0my-app\0refs/heads/main\0", 38) + sha('a') +
                          std::string("\0push", 5)));
  EXPECT_EQ(short_run_id(a), a.substr(0, 12));
  EXPECT_TRUE(valid_run_prefix("3f2a"));
  EXPECT_FALSE(valid_run_prefix("3f2"));
  EXPECT_FALSE(valid_run_prefix("3F2A"));
  EXPECT_FALSE(valid_run_prefix(std::string(65, 'a')));
}

TEST(CiIds, SlotIdsAndElection) {
  SlotKey k{"my-app", "main", "build", "test", 1'700'000'040};
  auto id = slot_id(k);
  EXPECT_TRUE(valid_run_id(id));
  SlotKey later = k;
  later.at_s += 60;
  EXPECT_NE(slot_id(later), id);
  SlotKey other_job = k;
  other_job.job = "";
  EXPECT_NE(slot_id(other_job), id);
  std::vector<std::string> nodes = {node('a'), node('b'), node('c')};
  auto winner = elect_slot_runner(id, nodes);
  EXPECT_FALSE(winner.empty());
  // The order of the candidates does not matter.
  EXPECT_EQ(elect_slot_runner(id, {node('c'), node('a'), node('b')}), winner);
  // Without the winner, somebody else; with none, nobody.
  std::vector<std::string> rest;
  for (const auto& n : nodes) {
    if (n != winner) rest.push_back(n);
  }
  auto second = elect_slot_runner(id, rest);
  EXPECT_NE(second, winner);
  EXPECT_EQ(elect_slot_runner(id, {}), "");
  // Over many slots every node wins some: the work is shared.
  std::map<std::string, int> wins;
  for (int i = 0; i < 300; ++i) {
    SlotKey s = k;
    s.at_s += 60 * i;
    ++wins[elect_slot_runner(slot_id(s), nodes)];
  }
  EXPECT_EQ(wins.size(), 3u);
  for (const auto& [n, w] : wins) EXPECT_GT(w, 50) << n;
}

TEST(CiText, Utf8AndCleaning) {
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("héllo ✓ 𝄞"));
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x9c"));          // truncated
  EXPECT_EQ(clean_text("a\x01"
                       "b\tc\nd\x7f",
                       100),
            "a?b\tc\nd?");
  EXPECT_EQ(clean_text("x\xffy", 100), "x?y");
  EXPECT_EQ(clean_text("abcdef", 6), "abcdef");
  auto cut = clean_text("abcdefgh", 6);
  EXPECT_EQ(cut, "abc…");
  EXPECT_LE(cut.size(), 6u);
  auto wide = clean_text("✓✓✓✓", 8);  // never cut inside a character
  EXPECT_TRUE(valid_utf8(wide));
  EXPECT_LE(wide.size(), 8u);
}

TEST(CiCrypto, Base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*base64_decode("Zm9vYg=="), "foob");
  EXPECT_FALSE(base64_decode("Zm9vYg"));
  EXPECT_FALSE(base64_decode("Zm9v Yg=="));
  EXPECT_FALSE(base64_decode("Zm9vYg==x"));
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(*base64_decode(base64_encode(all)), all);
}
