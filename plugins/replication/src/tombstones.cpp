#include "tombstones.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "names.hpp"
#include "state_file.hpp"

namespace mesh::repl {
namespace json = boost::json;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Per entry: repo (<= 100) + ref (<= 255) + oid (40) + JSON framing.
constexpr std::size_t kMaxEntryBytes = 512;

}  // namespace

Tombstones::Tombstones(TombstoneOptions options) : options_(std::move(options)) {}

void Tombstones::load(std::string* err) {
  std::lock_guard lock(mu_);
  entries_.clear();
  auto text = read_state_file(options_.file, options_.max_entries * kMaxEntryBytes + 64, err);
  if (!text) return;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  const json::array* list = nullptr;
  if (!ec && v.is_object()) {
    if (auto* l = v.as_object().if_contains("tombstones")) list = l->if_array();
  }
  if (!list) {
    *err = options_.file.string() + " is not a tombstone list";
    return;
  }
  std::size_t bad = 0;
  for (const auto& e : *list) {
    const auto* o = e.if_object();
    const json::string *repo = nullptr, *ref = nullptr, *oid = nullptr;
    const json::value* at = nullptr;
    if (o) {
      if (auto* x = o->if_contains("repo")) repo = x->if_string();
      if (auto* x = o->if_contains("ref")) ref = x->if_string();
      if (auto* x = o->if_contains("oid")) oid = x->if_string();
      at = o->if_contains("at_ms");
    }
    if (!repo || !ref || !oid || !at || !at->is_int64() || !valid_repo_name(*repo) ||
        !valid_ref_name(*ref) || !valid_oid(*oid)) {
      ++bad;
      continue;
    }
    entries_[{std::string(*repo), std::string(*ref)}] = {std::string(*oid), at->as_int64()};
  }
  expire_locked(now_ms());
  if (bad) *err = options_.file.string() + ": skipped " + std::to_string(bad) + " bad entries";
}

bool Tombstones::record(const std::string& repo,
                        const std::vector<std::pair<std::string, std::string>>& deleted,
                        const std::vector<std::string>& updated, std::string* err) {
  std::lock_guard lock(mu_);
  const auto now = now_ms();
  bool changed = !deleted.empty();
  for (const auto& ref : updated) changed = entries_.erase({repo, ref}) > 0 || changed;
  for (const auto& [ref, tip] : deleted) entries_[{repo, ref}] = {tip, now};
  if (!changed) return true;
  expire_locked(now);
  return save_locked(err);
}

std::optional<std::string> Tombstones::find(const std::string& repo, const std::string& ref) {
  std::lock_guard lock(mu_);
  auto it = entries_.find({repo, ref});
  if (it == entries_.end()) return std::nullopt;
  const auto life_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.life).count();
  if (now_ms() - it->second.at_ms > life_ms) return std::nullopt;
  return it->second.oid;
}

std::size_t Tombstones::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void Tombstones::expire_locked(std::int64_t now) {
  const auto life_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.life).count();
  std::erase_if(entries_, [&](const auto& e) { return now - e.second.at_ms > life_ms; });
  while (entries_.size() > options_.max_entries) {
    auto oldest = std::min_element(
        entries_.begin(), entries_.end(),
        [](const auto& a, const auto& b) { return a.second.at_ms < b.second.at_ms; });
    entries_.erase(oldest);
  }
}

bool Tombstones::save_locked(std::string* err) {
  json::array list;
  for (const auto& [key, e] : entries_) {
    list.push_back(
        json::object{{"repo", key.first}, {"ref", key.second}, {"oid", e.oid}, {"at_ms", e.at_ms}});
  }
  return write_state_file(options_.file,
                          json::serialize(json::object{{"v", 1}, {"tombstones", std::move(list)}}),
                          /*durable=*/true, err);
}

}  // namespace mesh::repl
