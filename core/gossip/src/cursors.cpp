#include "mesh/gossip/cursors.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

#include "mesh/base/encoding.hpp"
#include "mesh/base/files.hpp"

namespace mesh::gossip {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kHeader = "mesh-cursor-v1\n";
// One line per origin at most: 52 + 1 + 20 + 1 bytes, for kMaxFeeds origins.
constexpr std::size_t kMaxCursorFile = kHeader.size() + kMaxFeeds * 80;
constexpr std::size_t kBatch = 256;

Status check_subscriber(std::string_view subscriber) {
  if (!valid_topic(subscriber)) {
    return make_error(Errc::invalid, "bad subscriber name (expected [a-z][a-z0-9._-]{0,63})");
  }
  return {};
}

Result<VersionVector> parse(std::string_view text) {
  VersionVector v;
  if (!text.starts_with(kHeader)) return make_error(Errc::invalid, "not a cursor file");
  text.remove_prefix(kHeader.size());
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) return make_error(Errc::invalid, "unterminated line");
    auto line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return make_error(Errc::invalid, "bad line");
    auto key = from_base32(line.substr(0, sp));
    std::uint64_t seq = 0;
    auto num = line.substr(sp + 1);
    auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), seq);
    if (!key || key->size() != 32 || ec != std::errc{} || ptr != num.data() + num.size()) {
      return make_error(Errc::invalid, "bad line");
    }
    PublicKey k;
    std::copy(key->begin(), key->end(), k.bytes.begin());
    v[k] = seq;
  }
  return v;
}

}  // namespace

bool topic_matches(std::string_view pattern, std::string_view topic) {
  if (pattern == "*") return true;
  if (!topic.starts_with(pattern)) return false;
  return topic.size() == pattern.size() || topic[pattern.size()] == '.';
}

Result<std::unique_ptr<Cursors>> Cursors::open(const fs::path& root) {
  fs::path dir = root / "feeds" / "cursors";
  if (auto st = ensure_dir(dir); !st) return st.error();
  return std::unique_ptr<Cursors>(new Cursors(dir));
}

Result<VersionVector*> Cursors::load_locked(std::string_view subscriber) {
  if (auto st = check_subscriber(subscriber); !st) return st.error();
  if (auto it = cache_.find(subscriber); it != cache_.end()) return &it->second;
  if (cache_.size() >= kMaxSubscribers) return make_error(Errc::limit, "too many subscribers");
  fs::path path = dir_ / (std::string(subscriber) + ".cursor");
  VersionVector v;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    auto text = read_file(path, kMaxCursorFile);
    if (!text) return text.error();
    auto parsed = parse(*text);
    // Replaced atomically, so a bad file is outside damage: refuse rather than redeliver all.
    if (!parsed) return make_error(Errc::invalid, path.string() + ": " + parsed.error().message);
    v = std::move(*parsed);
  }
  return &cache_.emplace(std::string(subscriber), std::move(v)).first->second;
}

Status Cursors::save_locked(std::string_view subscriber, const VersionVector& v) {
  std::string text(kHeader);
  for (const auto& [key, seq] : v) {
    text += to_base32(key.bytes);
    text += ' ';
    text += std::to_string(seq);
    text += '\n';
  }
  return write_file_atomic(dir_ / (std::string(subscriber) + ".cursor"), text);
}

Result<std::uint64_t> Cursors::get(std::string_view subscriber, const PublicKey& origin) {
  std::lock_guard lock(mu_);
  auto v = load_locked(subscriber);
  if (!v) return v.error();
  auto it = (*v)->find(origin);
  return it == (*v)->end() ? 0 : it->second;
}

Result<VersionVector> Cursors::snapshot(std::string_view subscriber) {
  std::lock_guard lock(mu_);
  auto v = load_locked(subscriber);
  if (!v) return v.error();
  return **v;
}

Status Cursors::ack(std::string_view subscriber, const PublicKey& origin, std::uint64_t seq) {
  std::lock_guard lock(mu_);
  auto v = load_locked(subscriber);
  if (!v) return v.error();
  auto& cur = (**v)[origin];
  if (seq <= cur) return {};
  VersionVector next = **v;
  next[origin] = seq;
  // Only change memory once the file is durable, so memory never runs ahead of disk.
  if (auto st = save_locked(subscriber, next); !st) return st;
  **v = std::move(next);
  return {};
}

Result<std::vector<Event>> pending(const FeedStore& store, Cursors& cursors,
                                   std::string_view subscriber, const TopicFilter& filter,
                                   std::size_t max_events) {
  auto snap = cursors.snapshot(subscriber);
  if (!snap) return snap.error();
  std::vector<Event> out;
  for (const auto& [origin, last] : store.version_vector()) {
    auto it = snap->find(origin);
    std::uint64_t next = (it == snap->end() ? 0 : it->second) + 1;
    while (next <= last && out.size() < max_events) {
      auto batch = store.read(origin, next, kBatch);
      if (!batch) return batch.error();
      if (batch->empty()) break;
      for (auto& ev : *batch) {
        next = ev.seq + 1;
        if (filter && !filter(ev.topic)) continue;
        out.push_back(std::move(ev));
        if (out.size() >= max_events) break;
      }
    }
    if (out.size() >= max_events) break;
  }
  return out;
}

Result<std::size_t> deliver(FeedStore& store, Cursors& cursors, std::string_view subscriber,
                            const TopicFilter& filter,
                            const std::function<bool(const Event&)>& handle,
                            std::size_t max_events) {
  if (auto st = check_subscriber(subscriber); !st) return st.error();
  {
    std::lock_guard lock(cursors.mu_);
    if (!cursors.busy_.emplace(subscriber).second) {
      return make_error(Errc::state,
                        "delivery to " + std::string(subscriber) + " is already running");
    }
  }
  struct Release {
    Cursors& c;
    std::string_view s;
    ~Release() {
      std::lock_guard lock(c.mu_);
      c.busy_.erase(c.busy_.find(s));
    }
  } release{cursors, subscriber};

  auto snap = cursors.snapshot(subscriber);
  if (!snap) return snap.error();
  std::size_t delivered = 0;
  for (const auto& [origin, last] : store.version_vector()) {
    auto it = snap->find(origin);
    std::uint64_t acked = it == snap->end() ? 0 : it->second;
    std::uint64_t skipped_to = acked;  // highest seq passed over by the filter, not yet acked
    bool stop = false;
    while (!stop && std::max(acked, skipped_to) < last && delivered < max_events) {
      auto batch = store.read(origin, std::max(acked, skipped_to) + 1, kBatch);
      if (!batch) return batch.error();
      if (batch->empty()) break;
      for (const auto& ev : *batch) {
        if (filter && !filter(ev.topic)) {
          skipped_to = ev.seq;
          continue;
        }
        bool handled = false;
        if (delivered < max_events) {
          // No exception leaves this module: a throwing handler counts as not handled.
          try {
            handled = handle(ev);
          } catch (...) {
            return make_error(Errc::internal, "subscriber " + std::string(subscriber) +
                                                  " threw while handling an event");
          }
        }
        if (!handled) {
          stop = true;
          break;
        }
        ++delivered;
        // Right after the handler: the window for a repeat after a crash is this one write.
        if (auto st = cursors.ack(subscriber, origin, ev.seq); !st) return st.error();
        acked = ev.seq;
      }
    }
    if (skipped_to > acked) {
      if (auto st = cursors.ack(subscriber, origin, skipped_to); !st) return st.error();
    }
    if (delivered >= max_events) break;
  }
  return delivered;
}

}  // namespace mesh::gossip
