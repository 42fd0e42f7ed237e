// NAME|ID lookup (core/app/src/team/member_match): names, id prefixes, and ambiguity.
#include <gtest/gtest.h>

#include "member_match.hpp"

using namespace mesh;
using namespace mesh::app::team;
using mesh::identity::Identity;

namespace {

gossip::Member member(const std::string& name) {
  return gossip::Member{Identity::generate().public_key(), name, {}, 0, {}};
}

TEST(MemberMatch, AUniqueNameFindsItsMember) {
  std::vector<gossip::Member> ms{member("alice"), member("bob")};
  auto m = match_member(ms, "bob");
  ASSERT_TRUE(m.found());
  EXPECT_EQ(m.members[0].key, ms[1].key);
}

TEST(MemberMatch, ASharedNameIsAmbiguousAndListsBoth) {
  std::vector<gossip::Member> ms{member("root"), member("root"), member("carol")};
  auto m = match_member(ms, "root");
  EXPECT_FALSE(m.found());
  ASSERT_TRUE(m.ambiguous());
  EXPECT_EQ(m.members.size(), 2u);
  auto text = describe_miss(m, "root");
  EXPECT_NE(text.find("matches 2 members"), std::string::npos) << text;
  EXPECT_NE(text.find(ms[0].key.id()), std::string::npos) << text;
  EXPECT_NE(text.find(ms[1].key.id()), std::string::npos) << text;
  EXPECT_EQ(shared_names(ms), std::vector<std::string>{"root"});
}

TEST(MemberMatch, IdsAndIdPrefixesFindAMemberWithOrWithoutThePrefix) {
  std::vector<gossip::Member> ms{member("root"), member("root")};
  const std::string id = ms[1].key.id();
  for (const std::string& ref : {id, id.substr(5), id.substr(0, 5 + 12), id.substr(5, 12)}) {
    auto m = match_member(ms, ref);
    ASSERT_TRUE(m.found()) << ref;
    EXPECT_EQ(m.members[0].key, ms[1].key) << ref;
  }
  // Case does not matter (ids are base32).
  std::string upper = id.substr(5, 12);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(match_member(ms, upper).found());
}

TEST(MemberMatch, ShortOrUnknownReferencesMatchNothing) {
  std::vector<gossip::Member> ms{member("alice")};
  const std::string id = ms[0].key.id();
  EXPECT_TRUE(match_member(ms, id.substr(5, kMinIdPrefix - 1)).members.empty());
  EXPECT_TRUE(match_member(ms, "nobody").members.empty());
  EXPECT_TRUE(match_member(ms, "").members.empty());
  auto text = describe_miss(match_member(ms, "nobody"), "nobody");
  EXPECT_NE(text.find("no member named 'nobody'"), std::string::npos) << text;
}

TEST(MemberMatch, APrefixSharedByTwoIdsIsAmbiguous) {
  // Generate until two ids share their first four characters (about 1 in 30000 pairs, so keep
  // a pool and look for any such pair).
  std::map<std::string, gossip::Member> by_prefix;
  std::vector<gossip::Member> pair;
  for (int i = 0; i < 200000 && pair.empty(); ++i) {
    auto m = member("n" + std::to_string(i));
    auto p = m.key.id().substr(5, kMinIdPrefix);
    auto [it, fresh] = by_prefix.emplace(p, m);
    if (!fresh) pair = {it->second, m};
  }
  ASSERT_EQ(pair.size(), 2u);
  auto m = match_member(pair, pair[0].key.id().substr(5, kMinIdPrefix));
  EXPECT_TRUE(m.ambiguous());
  // One more character (where they differ) settles it.
  std::string a = pair[0].key.id().substr(5), b = pair[1].key.id().substr(5);
  std::size_t differ = 0;
  while (a[differ] == b[differ]) ++differ;
  auto one = match_member(pair, a.substr(0, differ + 1));
  ASSERT_TRUE(one.found());
  EXPECT_EQ(one.members[0].key, pair[0].key);
}

TEST(MemberMatch, AUniqueNameWinsOverAnIdPrefix) {
  std::vector<gossip::Member> ms{member("x"), member("y")};
  ms[0].name = ms[1].key.id().substr(5, 8);  // a name that is the other's id prefix
  auto m = match_member(ms, ms[0].name);
  ASSERT_TRUE(m.found());
  EXPECT_EQ(m.members[0].key, ms[0].key);
}

}  // namespace
