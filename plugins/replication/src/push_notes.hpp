// Lines other plugins add to what a push shows (`remote: mesh: CI run 3f2a… queued (build,
// test) -> carol`). A plugin that has something to say about pushes announces itself on the
// node-local topic `local.push.note` ({"provider":"ci","ttl_ms":15000}, repeated while it runs)
// and answers each refs event this node published with {"provider","repo","clock","lines":[..]}
// (lines may be empty). The push waits, after its replication wait, until every announced
// provider has answered its (repo, clock) or a short deadline passes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mesh::repl {

inline constexpr const char* kPushNoteTopic = "local.push.note";

class PushNotes {
 public:
  using Clock = std::chrono::steady_clock;

  // One event of kPushNoteTopic; anything malformed is ignored.
  void on_event(std::string_view payload);
  // The lines for the push (repo, clock), once every provider announced within its ttl has
  // answered or `wait` has passed; each at most 512 bytes, at most 16 per provider.
  std::vector<std::string> collect(const std::string& repo, std::uint64_t clock,
                                   std::chrono::milliseconds wait);
  // Wakes every waiter (the plugin stops).
  void stop();

 private:
  struct Entry {
    std::set<std::string> answered;
    std::vector<std::string> lines;
    Clock::time_point at;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Clock::time_point> providers_;  // until when each is expected
  std::map<std::pair<std::string, std::uint64_t>, Entry> notes_;
  bool stopping_ = false;
};

}  // namespace mesh::repl
