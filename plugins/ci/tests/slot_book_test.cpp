#include "slot_book.hpp"

#include <gtest/gtest.h>

#include "test_util.hpp"

using namespace mesh::ci;
using namespace mesh::ci::test;

namespace {

SlotKey key(std::int64_t at) {
  return SlotKey{"my-app", "main", "build", "", at};
}

Record claim(std::int64_t at, const std::string& run) {
  auto k = key(at);
  return Record{run, SlotClaimed{k, slot_id(k), run}};
}

Record missed(std::int64_t at) {
  auto k = key(at);
  return Record{"", SlotMissed{k, slot_id(k), "no eligible runner was up"}};
}

}  // namespace

TEST(CiSlotBook, FirstClaimWinsAndClaimsBeatMisses) {
  const std::string r1(64, '1');
  const std::string r2(64, '2');
  const std::string id = slot_id(key(600));
  Envelope a{node('a'), 1, 10, 1};
  Envelope b{node('b'), 1, 11, 1};
  Envelope c{node('c'), 1, 9, 1};
  for (bool reverse : {false, true}) {
    SlotBook book;
    if (!reverse) {
      EXPECT_EQ(book.apply(claim(600, r1), a), "");
      EXPECT_NE(book.apply(claim(600, r2), b), "");  // later in order: loses
      EXPECT_NE(book.apply(missed(600), c), "");     // a claim beats a miss
    } else {
      EXPECT_EQ(book.apply(missed(600), c), "");
      EXPECT_EQ(book.apply(claim(600, r2), b), "");  // the slot did run after all
      EXPECT_EQ(book.apply(claim(600, r1), a), "");  // earlier in order: wins
    }
    const auto* s = book.find(id);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->claimed);
    EXPECT_EQ(s->by, node('a'));
    EXPECT_EQ(s->run, r1);
  }
  SlotBook book;
  EXPECT_EQ(book.apply(missed(660), a), "");
  EXPECT_TRUE(book.taken(slot_id(key(660))));
  EXPECT_FALSE(book.find(slot_id(key(660)))->claimed);
  EXPECT_FALSE(book.taken(slot_id(key(720))));
  EXPECT_EQ(book.apply(missed(660), a), "duplicate");
  EXPECT_NE(book.apply(Record{r1, CancelRequested{}}, a), "");
  book.apply(claim(6000, r1), b);
  book.prune(1000);
  EXPECT_EQ(book.size(), 1u);
  EXPECT_TRUE(book.taken(slot_id(key(6000))));
}
