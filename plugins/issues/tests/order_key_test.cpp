#include "order_key.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <list>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "limits.hpp"
#include "test_util.hpp"

using namespace mesh::issues;
using mesh::issues::test::seeded;

namespace {

std::size_t longest(const std::list<std::string>& keys) {
  std::size_t n = 0;
  for (const auto& k : keys) n = std::max(n, k.size());
  return n;
}

// Strictly increasing, each one valid: a strict total order.
void expect_strict(const std::list<std::string>& keys) {
  const std::string* prev = nullptr;
  for (const auto& k : keys) {
    EXPECT_TRUE(valid_order_key(k)) << k;
    if (prev) {
      EXPECT_LT(*prev, k);
    }
    prev = &k;
  }
}

enum class Pattern { after_first, before_last, middle, random };

// 500 moves into the one gap between two neighbours X and Y, each landing at a place the
// pattern picks inside that gap; returns the keys in board order (X and Y included).
std::list<std::string> moves_into_gap(Pattern pattern, int moves, std::uint64_t seed) {
  auto random = seeded(seed);
  std::mt19937_64 where(seed + 1);
  std::list<std::string> keys{"a5", "a6"};  // X and Y, neighbours
  for (int i = 0; i < moves; ++i) {
    std::size_t inside = keys.size() - 2;  // cards moved into the gap so far
    std::size_t slot = 1;                  // insert before the element at index `slot`
    switch (pattern) {
      case Pattern::after_first:
        slot = 1;
        break;
      case Pattern::before_last:
        slot = keys.size() - 1;
        break;
      case Pattern::middle:
        slot = 1 + inside / 2;
        break;
      case Pattern::random:
        slot = 1 + static_cast<std::size_t>(where() % (inside + 1));
        break;
    }
    auto hi = std::next(keys.begin(), static_cast<long>(slot));
    auto lo = std::prev(hi);
    auto k = key_between(*lo, *hi, random);
    if (!k) {
      ADD_FAILURE() << "no key between " << *lo << " and " << *hi;
      return keys;
    }
    keys.insert(hi, *k);
  }
  return keys;
}

}  // namespace

TEST(IssuesOrderKey, Validity) {
  for (const char* ok :
       {"a0", "a5", "Zz", "Y00", "b00", "a0V", "a0001", "A00000000000000000000000001"}) {
    EXPECT_TRUE(valid_order_key(ok)) << ok;
  }
  for (const std::string& bad : std::vector<std::string>{"", "a", "b0", "a00", "a0V0", "a_", "!0",
                                                         "0a", "A" + std::string(26, '0'),
                                                         "a0" + std::string(kMaxOrderKey, 'V')}) {
    EXPECT_FALSE(valid_order_key(bad)) << bad;
    EXPECT_TRUE(check_order_key(bad));
  }
}

TEST(IssuesOrderKey, BetweenBoundsAndRefusals) {
  auto random = seeded(1);
  auto first = key_between("", "", random);
  ASSERT_TRUE(first);
  auto after = key_between(*first, "", random);
  auto before = key_between("", *first, random);
  ASSERT_TRUE(after && before);
  EXPECT_LT(*before, *first);
  EXPECT_LT(*first, *after);
  EXPECT_FALSE(key_between("a5", "a5", random)) << "nothing fits between equal keys";
  EXPECT_FALSE(key_between("a6", "a5", random)) << "bounds the wrong way round";
  EXPECT_FALSE(key_between("b0", "", random)) << "an invalid bound";
  // The extremes still have room on their inner side.
  std::string smallest_plus = "A" + std::string(25, '0') + "1";
  auto low = key_between("", smallest_plus, random);
  ASSERT_TRUE(low);
  EXPECT_LT(*low, smallest_plus);
  std::string largest = "z" + std::string(26, 'z');
  auto high = key_between(largest, "", random);
  ASSERT_TRUE(high);
  EXPECT_GT(*high, largest);
}

TEST(IssuesOrderKey, FiveHundredMovesIntoOneGapKeepAStrictOrder) {
  const char* names[] = {"after-first", "before-last", "middle", "random"};
  for (int p = 0; p < 4; ++p) {
    auto keys = moves_into_gap(static_cast<Pattern>(p), 500, 42 + static_cast<unsigned>(p));
    ASSERT_EQ(keys.size(), 502u);
    expect_strict(keys);
    std::set<std::string> distinct(keys.begin(), keys.end());
    EXPECT_EQ(distinct.size(), keys.size());
    std::size_t len = longest(keys);
    std::printf("500 moves into one gap (%s): longest key %zu bytes\n", names[p], len);
    RecordProperty(std::string("longest_key_") + names[p], static_cast<int>(len));
    // Bounded growth: the worst patterns (each card dropped next to the previous one) add
    // about one digit per five or six moves, far below the key limit; random drops stay
    // logarithmic.
    EXPECT_LE(len, 160u) << names[p];
    if (p == 3) {
      EXPECT_LE(len, 24u) << names[p];
    }
  }
}

TEST(IssuesOrderKey, AppendsAndPrependsGrowLogarithmically) {
  auto random = seeded(7);
  std::string last;
  std::string first;
  std::list<std::string> keys;
  for (int i = 0; i < 20000; ++i) {
    auto k = key_between(last, "", random);
    ASSERT_TRUE(k);
    last = *k;
    keys.push_back(*k);
  }
  first = keys.front();
  for (int i = 0; i < 20000; ++i) {
    auto k = key_between("", first, random);
    ASSERT_TRUE(k);
    first = *k;
    keys.push_front(*k);
  }
  expect_strict(keys);
  std::printf("20000 appends + 20000 prepends: longest key %zu bytes\n", longest(keys));
  EXPECT_LE(longest(keys), 5u);
}

TEST(IssuesOrderKey, RandomInsertionsStayOrdered) {
  auto random = seeded(99);
  std::mt19937_64 where(5);
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i) {
    std::size_t slot = keys.empty() ? 0 : where() % (keys.size() + 1);
    std::string lo = slot == 0 ? "" : keys[slot - 1];
    std::string hi = slot == keys.size() ? "" : keys[slot];
    auto k = key_between(lo, hi, random);
    ASSERT_TRUE(k) << lo << " .. " << hi;
    keys.insert(keys.begin() + static_cast<long>(slot), *k);
  }
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end());
}

TEST(IssuesOrderKey, JitterSeparatesConcurrentPicks) {
  // Two nodes put a card into the same gap at the same time, each with its own randomness.
  int same = 0;
  for (std::uint64_t s = 0; s < 200; ++s) {
    auto a = key_between("a5", "a6", seeded(s));
    auto b = key_between("a5", "a6", seeded(s + 1000));
    ASSERT_TRUE(a && b);
    same += *a == *b;
  }
  EXPECT_LT(same, 30) << "jitter should make equal picks rare (ties are still ordered by id)";
}

TEST(IssuesOrderKey, SpreadKeys) {
  auto keys = spread_keys(10000);
  ASSERT_EQ(keys.size(), 10000u);
  std::list<std::string> l(keys.begin(), keys.end());
  expect_strict(l);
  EXPECT_LE(longest(l), 4u);
  auto random = seeded(3);
  EXPECT_TRUE(key_between(keys[0], keys[1], random));
  EXPECT_TRUE(spread_keys(0).empty());
}
