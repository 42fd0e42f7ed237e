#include "subscriptions.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <utility>

namespace mesh::gossip {
namespace {

constexpr std::size_t kDeliverBatch = 256;
using Clock = std::chrono::steady_clock;

}  // namespace

Subscriptions::Subscriptions(FeedStore& store, Cursors& cursors, std::chrono::milliseconds retry)
    : store_(store), cursors_(cursors), retry_(retry) {}

Subscriptions::~Subscriptions() {
  stop();
}

Status Subscriptions::add(std::string name, std::string pattern, Engine::Handler handler) {
  reap_finished();
  std::lock_guard lock(mu_);
  if (stopped_) return make_error(Errc::state, "engine stopped");
  if (subs_.count(name)) return make_error(Errc::exists, "subscriber exists: " + name);
  if (subs_.size() >= kMaxSubscriptions)
    return make_error(Errc::limit,
                      "too many subscribers (at most " + std::to_string(kMaxSubscriptions) + ")");
  auto sub = std::make_shared<Sub>();
  sub->name = name;
  sub->pattern = std::move(pattern);
  sub->handler = std::move(handler);
  // Started under mu_: it waits for the lock, so `thread` is set before anyone else reads it.
  sub->thread = std::thread([this, sub] { run(sub); });
  subs_.emplace(std::move(name), std::move(sub));
  return {};
}

void Subscriptions::remove(const std::string& name) {
  std::shared_ptr<Sub> sub;
  std::thread t;
  {
    std::lock_guard lock(mu_);
    auto it = subs_.find(name);
    if (it == subs_.end()) return;
    sub = it->second;
    sub->removed = true;
    subs_.erase(it);
    t = std::move(sub->thread);
  }
  sub->cv.notify_all();
  join(t, sub);
}

void Subscriptions::reap_finished() {
  std::vector<std::pair<std::thread, std::shared_ptr<Sub>>> done;
  {
    std::lock_guard lock(mu_);
    for (auto it = finished_.begin(); it != finished_.end();) {
      if (it->second->exited) {
        done.push_back(std::move(*it));
        it = finished_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [t, sub] : done) t.join();  // it has returned from run(): no wait
}

void Subscriptions::stored_changed() {
  std::lock_guard lock(mu_);
  for (auto& [name, sub] : subs_) {
    sub->wake = true;
    sub->cv.notify_all();
  }
}

void Subscriptions::offer_live(const Event& ev) {
  std::lock_guard lock(mu_);
  for (auto& [name, sub] : subs_) {
    if (sub->removed || !topic_matches(sub->pattern, ev.topic)) continue;
    sub->live.push_back(ev);
    sub->live_bytes += ev.payload.size();
    while (sub->live.size() > kLiveQueueCap || sub->live_bytes > kLiveQueueBytes) {
      sub->live_bytes -= sub->live.front().payload.size();
      sub->live.pop_front();
      ++live_dropped_;
    }
    sub->cv.notify_all();
  }
}

std::uint64_t Subscriptions::live_dropped() const {
  std::lock_guard lock(mu_);
  return live_dropped_;
}

void Subscriptions::stop() {
  std::vector<std::pair<std::thread, std::shared_ptr<Sub>>> threads;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (auto& [name, sub] : subs_) {
      if (sub->thread.joinable()) threads.emplace_back(std::move(sub->thread), sub);
      sub->cv.notify_all();
    }
    for (auto& f : finished_) threads.push_back(std::move(f));
    finished_.clear();
  }
  for (auto& [t, sub] : threads) join(t, sub);
}

void Subscriptions::join(std::thread& t, const std::shared_ptr<Sub>& sub) {
  if (!t.joinable()) return;
  if (t.get_id() != std::this_thread::get_id()) {
    t.join();
    return;
  }
  // Removed or stopped from its own handler: that call is the last; it is joined later.
  std::lock_guard lock(mu_);
  finished_.emplace_back(std::move(t), sub);
}

bool Subscriptions::gone(const Sub& sub) const {
  std::lock_guard lock(mu_);
  return stopped_ || sub.removed;
}

void Subscriptions::run(const std::shared_ptr<Sub>& sub) {
  struct Exit {
    Sub& s;
    ~Exit() { s.exited = true; }
  } on_exit{*sub};
  std::optional<Clock::time_point> retry_at;  // a refused stored event is due again then
  for (;;) {
    std::deque<Event> live;
    bool stored = false;
    {
      std::unique_lock lock(mu_);
      auto ready = [&] { return stopped_ || sub->removed || sub->wake || !sub->live.empty(); };
      if (retry_at) {
        // A deadline, not a wait per wake-up: steady live traffic must not postpone the retry.
        sub->cv.wait_until(lock, *retry_at, ready);
        if (Clock::now() >= *retry_at) sub->wake = true;
      } else {
        sub->cv.wait(lock, ready);
      }
      if (stopped_ || sub->removed) return;
      stored = std::exchange(sub->wake, false);
      live.swap(sub->live);
      sub->live_bytes = 0;
    }
    for (const auto& ev : live) {
      if (gone(*sub)) return;
      try {
        sub->handler(ev);  // the verdict does not matter: live events are never retried
      } catch (const std::exception& e) {
        spdlog::warn("gossip: subscriber {} threw: {}", sub->name, e.what());
      }
    }
    if (stored) {
      bool again = deliver_stored(sub);
      retry_at = again ? std::optional(Clock::now() + retry_) : std::nullopt;
    }
  }
}

bool Subscriptions::deliver_stored(const std::shared_ptr<Sub>& sub) {
  const std::string& pattern = sub->pattern;
  auto filter = [&pattern](std::string_view topic) {
    return !is_ephemeral_topic(topic) && topic_matches(pattern, topic);
  };
  for (;;) {
    if (gone(*sub)) return false;
    bool refused = false;
    auto handle = [&](const Event& e) {
      if (gone(*sub)) {
        refused = true;
        return false;
      }
      bool ok = sub->handler(e);
      refused = refused || !ok;
      return ok;
    };
    auto r = deliver(store_, cursors_, sub->name, filter, handle, kDeliverBatch);
    if (!r) {
      spdlog::warn("gossip: delivery to {}: {}", sub->name, r.error().message);
      return true;
    }
    if (refused) return true;
    if (*r < kDeliverBatch) return false;
  }
}

}  // namespace mesh::gossip
