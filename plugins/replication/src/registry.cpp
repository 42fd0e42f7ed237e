#include "registry.hpp"

#include <algorithm>

#include "names.hpp"

namespace mesh::repl {
namespace {

const std::string kZero(40, '0');
constexpr std::size_t kMaxSupersedes = 64;

}  // namespace

std::string deletion_of(std::string_view tip) {
  return "-" + std::string(tip);
}
bool is_deletion(std::string_view value) {
  return value.starts_with('-');
}
std::string_view deleted_tip(std::string_view value) {
  return is_deletion(value) ? value.substr(1) : value;
}
bool valid_value(std::string_view value) {
  std::string_view tip = deleted_tip(value);
  return valid_oid(tip) && tip != kZero;
}

std::vector<std::pair<std::string, Key>> RefRegistry::alive() const {
  std::vector<std::pair<std::string, Key>> out;
  for (const auto& [value, state] : values) {
    if (state.alive()) out.emplace_back(value, *state.set);
  }
  return out;
}

bool RepoRegistry::apply(const RegistryUpdate& u, const Key& key, std::int64_t now_ms) {
  const std::string set_value =
      u.new_oid != kZero ? u.new_oid : (u.old_oid != kZero ? deletion_of(u.old_oid) : "");
  if (set_value.empty()) return false;  // absent -> absent says nothing
  RefRegistry& r = refs[u.ref];
  bool changed = false;
  auto supersede = [&](const std::string& v) {
    if (v == set_value || !valid_value(v)) return;
    ValueState& s = r.values[v];
    if (!s.superseded || *s.superseded < key) {
      s.superseded = key;
      s.at_ms = now_ms;
      changed = true;
    }
  };
  if (u.old_oid != kZero && u.old_oid != u.new_oid) supersede(u.old_oid);
  for (std::size_t i = 0; i < u.supersedes.size() && i < kMaxSupersedes; ++i) {
    supersede(u.supersedes[i]);
  }
  ValueState& s = r.values[set_value];
  if (!s.set || *s.set < key) {
    s.set = key;
    changed = true;
  }
  return changed;
}

bool RepoRegistry::apply_removal(bool remove, const Key& key, std::int64_t now_ms) {
  std::optional<Key>& slot = remove ? removed : restored;
  if (slot && !(*slot < key)) return false;
  bool was = is_removed();
  slot = key;
  if (is_removed() && !was) removed_at_ms = now_ms;
  return true;
}

void RepoRegistry::expire(std::int64_t now_ms, std::int64_t life_ms, std::size_t max_dead) {
  for (auto it = refs.begin(); it != refs.end();) {
    auto& values = it->second.values;
    std::vector<std::pair<std::int64_t, std::string>> dead;
    for (auto v = values.begin(); v != values.end();) {
      if (v->second.alive()) {
        ++v;
      } else if (now_ms - v->second.at_ms > life_ms) {
        v = values.erase(v);
      } else {
        dead.emplace_back(v->second.at_ms, v->first);
        ++v;
      }
    }
    if (dead.size() > max_dead) {
      std::sort(dead.begin(), dead.end());
      for (std::size_t i = 0; i + max_dead < dead.size(); ++i) values.erase(dead[i].second);
    }
    it = values.empty() ? refs.erase(it) : std::next(it);
  }
}

std::uint64_t RepoRegistry::max_clock() const {
  std::uint64_t c = 0;
  for (const auto& [ref, r] : refs) {
    for (const auto& [value, s] : r.values) {
      if (s.set) c = std::max(c, s.set->clock);
      if (s.superseded) c = std::max(c, s.superseded->clock);
    }
  }
  for (const auto* k : {&removed, &restored}) {
    if (*k) c = std::max(c, (*k)->clock);
  }
  return c;
}

RefPlan plan_ref(const RefRegistry& r, const HasObject& has, const Contains& contains,
                 const std::vector<std::string>& unavailable) {
  RefPlan plan;
  std::vector<Contender> tips, deletions;
  for (auto& [value, key] : r.alive()) {
    if (is_deletion(value)) {
      deletions.push_back({value, key});
    } else if (std::find(unavailable.begin(), unavailable.end(), value) != unavailable.end()) {
      continue;
    } else if (!has(value)) {
      plan.missing.push_back(value);
    } else {
      tips.push_back({value, key});
    }
  }
  if (!plan.missing.empty()) return plan;
  std::vector<Contender> competing;
  for (const auto& a : tips) {
    bool contained = std::any_of(tips.begin(), tips.end(), [&](const Contender& b) {
      return b.value != a.value && contains(b.value, a.value);
    });
    if (!contained) competing.push_back(a);
  }
  if (competing.empty()) return plan;  // absent (a deletion, or nothing ever set)
  // Greatest key first; equal keys (only seeds of one node share one) by value, so every node
  // orders them alike.
  auto before = [](const Contender& x, const Contender& y) {
    return y.key < x.key || (x.key == y.key && x.value < y.value);
  };
  std::sort(competing.begin(), competing.end(), before);
  plan.winner = competing.front();
  plan.parked.assign(competing.begin() + 1, competing.end());
  std::sort(deletions.begin(), deletions.end(), before);
  plan.lost_deletions = std::move(deletions);
  return plan;
}

std::vector<std::string> superseded_by_push(const RefRegistry& r, const std::string& old_oid,
                                            const std::string& new_oid, const HasObject& has,
                                            const Contains& contains) {
  std::vector<std::string> out;
  for (const auto& [value, key] : r.alive()) {
    if (out.size() >= kMaxSupersedes) break;
    if (value == old_oid || value == new_oid) continue;
    if (is_deletion(value)) {
      out.push_back(value);
      continue;
    }
    if (!has(value)) continue;
    if ((new_oid != kZero && contains(new_oid, value)) ||
        (old_oid != kZero && contains(old_oid, value))) {
      out.push_back(value);
    }
  }
  return out;
}

}  // namespace mesh::repl
