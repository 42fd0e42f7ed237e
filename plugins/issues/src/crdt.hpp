// The replicated data types an issue is made of. Each merge is commutative, associative and
// idempotent, so the state is the same whatever order the ops arrive in.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace mesh::issues {

// Total order of ops: (lamport, origin), then seq (one origin never reuses a lamport, so seq
// only matters for a misbehaving origin).
struct Stamp {
  std::uint64_t lamport = 0;
  std::string origin;
  std::uint64_t seq = 0;
  friend auto operator<=>(const Stamp&, const Stamp&) = default;
  friend bool operator==(const Stamp&, const Stamp&) = default;
};

// Last-writer-wins register: the value of the greatest stamp.
template <typename T>
struct Lww {
  T value{};
  Stamp stamp;
  // True if v now is the value.
  bool offer(T v, const Stamp& s) {
    if (!(stamp < s)) return false;
    value = std::move(v);
    stamp = s;
    return true;
  }
};

// Observed-remove set: an add carries a unique tag (the add op's id), a remove names the tags
// it observed for that value. A value is present while one of its tags is not removed, so a
// concurrent add survives a remove that did not see it. Tombstones are (value, tag) pairs: a
// remove that arrives before its add still wins over exactly that add.
class OrSet {
 public:
  void add(const std::string& value, const std::string& tag) {
    if (removed_.count({value, tag}) != 0) return;
    live_[value].insert(tag);
  }
  void remove(const std::string& value, const std::vector<std::string>& tags) {
    auto it = live_.find(value);
    for (const auto& tag : tags) {
      removed_.insert({value, tag});
      if (it != live_.end()) it->second.erase(tag);
    }
    if (it != live_.end() && it->second.empty()) live_.erase(it);
  }
  bool contains(const std::string& value) const { return live_.count(value) != 0; }
  // Present values in byte order.
  std::vector<std::string> values() const {
    std::vector<std::string> out;
    out.reserve(live_.size());
    for (const auto& [value, tags] : live_) out.push_back(value);
    return out;
  }
  std::size_t size() const { return live_.size(); }
  // The tags a remove of `value` must name.
  std::vector<std::string> tags(const std::string& value) const {
    auto it = live_.find(value);
    if (it == live_.end()) return {};
    return {it->second.begin(), it->second.end()};
  }

 private:
  std::map<std::string, std::set<std::string>> live_;
  std::set<std::pair<std::string, std::string>> removed_;
};

}  // namespace mesh::issues
