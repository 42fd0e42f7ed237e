// The engine's subscribers. Each subscription has its own delivery thread, live queue and
// persisted cursor, so a slow or stuck handler delays only its own subscription: the others
// keep receiving stored and live events. Internal to the gossip module.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/gossip/cursors.hpp"
#include "mesh/gossip/engine.hpp"
#include "mesh/gossip/feed_store.hpp"

namespace mesh::gossip {

// Every subscription costs a thread: this bounds them (the plugin host allows 64 per plugin).
inline constexpr std::size_t kMaxSubscriptions = 256;
// Live (ephemeral) events waiting for one subscriber, by count and bytes; the oldest go first.
inline constexpr std::size_t kLiveQueueCap = 1024;
inline constexpr std::size_t kLiveQueueBytes = 4u << 20;

class Subscriptions {
 public:
  // retry: how long a subscription waits before it offers a refused stored event again.
  Subscriptions(FeedStore& store, Cursors& cursors,
                std::chrono::milliseconds retry = std::chrono::seconds(1));
  ~Subscriptions();  // stop()
  Subscriptions(const Subscriptions&) = delete;
  Subscriptions& operator=(const Subscriptions&) = delete;

  // Starts the subscription's thread; it catches up from the cursor at once.
  Status add(std::string name, std::string pattern, Engine::Handler handler);
  // Detaches it; returns once its handler call in flight has finished, unless called from that
  // handler (then the call in flight is the last).
  void remove(const std::string& name);
  // New stored events: every subscription looks past its cursor.
  void stored_changed();
  // Queues an ephemeral event for every subscription whose pattern matches.
  void offer_live(const Event& ev);
  // Ephemeral events dropped because a subscriber fell behind.
  std::uint64_t live_dropped() const;
  // No handler call starts after this; joins every delivery thread but the caller's.
  void stop();

 private:
  struct Sub {
    std::string name;
    std::string pattern;
    Engine::Handler handler;
    std::condition_variable cv;  // with mu_
    std::deque<Event> live;
    std::size_t live_bytes = 0;
    bool wake = true;  // look past the cursor (also at start: catch up)
    bool removed = false;
    std::thread thread;
    std::atomic<bool> exited{false};  // run() has returned: joining does not wait
  };

  void run(const std::shared_ptr<Sub>& sub);
  // Hands every undelivered stored event to the handler; true if it must be retried later.
  bool deliver_stored(const std::shared_ptr<Sub>& sub);
  bool gone(const Sub& sub) const;
  void join(std::thread& t, const std::shared_ptr<Sub>& sub);
  void reap_finished();

  FeedStore& store_;
  Cursors& cursors_;
  const std::chrono::milliseconds retry_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Sub>, std::less<>> subs_;
  // Threads of subscriptions removed from their own handler, joined once they have exited.
  std::vector<std::pair<std::thread, std::shared_ptr<Sub>>> finished_;
  std::uint64_t live_dropped_ = 0;
  bool stopped_ = false;
};

}  // namespace mesh::gossip
