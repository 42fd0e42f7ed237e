#include "push_notes.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace mesh::repl {
namespace json = boost::json;
namespace {

constexpr std::size_t kMaxLine = 512;
constexpr std::size_t kMaxLines = 16;
constexpr std::size_t kMaxEntries = 1000;
constexpr std::size_t kMaxProviders = 16;

std::string clean(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, kMaxLine))
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  return out;
}

}  // namespace

void PushNotes::on_event(std::string_view payload) {
  if (payload.size() > 64 * 1024) return;
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  if (!o) return;
  const json::value* provider = o->if_contains("provider");
  if (!provider || !provider->is_string() || provider->as_string().empty() ||
      provider->as_string().size() > 64)
    return;
  std::string who(provider->as_string());
  auto now = Clock::now();
  std::lock_guard lock(mu_);
  if (const json::value* ttl = o->if_contains("ttl_ms"); ttl && ttl->is_int64()) {
    auto ms = std::clamp<std::int64_t>(ttl->as_int64(), 0, 600'000);
    if (providers_.size() < kMaxProviders || providers_.count(who))
      providers_[who] = now + std::chrono::milliseconds(ms);
    return;
  }
  const json::value* repo = o->if_contains("repo");
  const json::value* clock = o->if_contains("clock");
  const json::value* lines = o->if_contains("lines");
  if (!repo || !repo->is_string() || !clock || !(clock->is_int64() || clock->is_uint64()) ||
      !lines || !lines->is_array())
    return;
  std::uint64_t c =
      clock->is_uint64() ? clock->as_uint64() : static_cast<std::uint64_t>(clock->as_int64());
  if (notes_.size() >= kMaxEntries) {
    auto oldest = std::min_element(notes_.begin(), notes_.end(), [](const auto& a, const auto& b) {
      return a.second.at < b.second.at;
    });
    notes_.erase(oldest);
  }
  Entry& e = notes_[{std::string(repo->as_string()), c}];
  if (e.answered.empty()) e.at = now;
  e.answered.insert(who);
  std::size_t n = 0;
  for (const auto& l : lines->as_array()) {
    if (l.is_string() && n++ < kMaxLines) e.lines.push_back(clean(l.as_string()));
  }
  cv_.notify_all();
}

std::vector<std::string> PushNotes::collect(const std::string& repo, std::uint64_t clock,
                                            std::chrono::milliseconds wait) {
  auto deadline = Clock::now() + wait;
  std::unique_lock lock(mu_);
  auto complete = [&] {
    if (stopping_) return true;
    auto now = Clock::now();
    auto it = notes_.find({repo, clock});
    for (const auto& [who, until] : providers_) {
      if (until < now) continue;
      if (it == notes_.end() || !it->second.answered.count(who)) return false;
    }
    return true;
  };
  cv_.wait_until(lock, deadline, complete);
  std::vector<std::string> out;
  auto it = notes_.find({repo, clock});
  if (it != notes_.end()) {
    out = std::move(it->second.lines);
    notes_.erase(it);
  }
  return out;
}

void PushNotes::stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  cv_.notify_all();
}

}  // namespace mesh::repl
