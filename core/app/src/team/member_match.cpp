#include "member_match.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace mesh::app::team {

MemberMatch match_member(const std::vector<gossip::Member>& members, std::string_view ref) {
  MemberMatch out;
  if (ref.empty()) return out;
  for (const auto& m : members) {
    if (!m.name.empty() && m.name == ref) out.members.push_back(m);
  }
  if (!out.members.empty()) return out;
  std::string prefix(ref);
  std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (prefix.starts_with("mesh:")) prefix.erase(0, 5);
  if (prefix.size() < kMinIdPrefix) return out;
  for (const auto& m : members) {
    if (m.key.id().substr(5).starts_with(prefix)) out.members.push_back(m);
  }
  return out;
}

std::string describe_miss(const MemberMatch& match, std::string_view ref) {
  if (match.members.empty()) {
    return "no member named '" + std::string(ref) + "' (see: mesh peers; an id prefix of " +
           std::to_string(kMinIdPrefix) + "+ characters works too)";
  }
  std::string out = "'" + std::string(ref) + "' matches " + std::to_string(match.members.size()) +
                    " members; name one by its id (or a longer id prefix):";
  for (const auto& m : match.members) out += "\n  " + m.name + "  " + m.key.id();
  return out;
}

std::vector<std::string> shared_names(const std::vector<gossip::Member>& members) {
  std::map<std::string, int> count;
  for (const auto& m : members) ++count[m.name];
  std::vector<std::string> out;
  for (const auto& [name, n] : count) {
    if (n > 1) out.push_back(name);
  }
  return out;
}

}  // namespace mesh::app::team
