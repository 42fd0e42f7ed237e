// Finding the member a user means by NAME|ID (`mesh remove-peer`, `mesh add-address`), and
// telling apart members that share a name. Pure functions over a roster snapshot.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mesh/gossip/roster.hpp"

namespace mesh::app::team {

// The shortest id prefix (after "mesh:") accepted as a member reference.
inline constexpr std::size_t kMinIdPrefix = 4;

struct MemberMatch {
  // Exactly one member for a hit, several when the reference is ambiguous, none when nothing
  // matches.
  std::vector<gossip::Member> members;
  bool found() const { return members.size() == 1; }
  bool ambiguous() const { return members.size() > 1; }
};

// `ref` is an exact name, a full id ("mesh:…"), or an id prefix of at least kMinIdPrefix
// characters with or without "mesh:" (case-insensitive). A name shared by several members
// and a prefix of several ids are ambiguous; a unique name wins over an id prefix.
MemberMatch match_member(const std::vector<gossip::Member>& members, std::string_view ref);

// "no member named X" / "X matches 2 members: …" with each candidate's name and id, for a
// match that did not find exactly one.
std::string describe_miss(const MemberMatch& match, std::string_view ref);

// Names that more than one of `members` carries, sorted.
std::vector<std::string> shared_names(const std::vector<gossip::Member>& members);

}  // namespace mesh::app::team
