// Server-sent events: GET /events?ch=<channel>&ch=... (loopback only) opens a text/event-stream
// that receives every event published to one of its channels while it is open. Nothing is
// stored or replayed: a page that (re)connects renders the current state itself and then
// follows the changes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/http/router.hpp"

namespace mesh::web {

struct SseOptions {
  std::size_t max_streams = 64;                 // open streams; more get 503 (each has a thread)
  std::size_t max_channels = 16;                // channels one stream may follow
  std::size_t queue_bytes = 1 << 20;            // unsent bytes per stream before it is closed
  std::chrono::milliseconds keepalive{15'000};  // a ": keep-alive" comment when idle
  std::chrono::milliseconds retry{3'000};       // the "retry:" reconnect hint sent first
};

// [a-z0-9][a-z0-9._/-]{0,127}: channels ("node", "ci/my-app") and event names alike.
bool valid_channel(std::string_view name);

// One event as it goes on the wire: "event: <event>\n" then one "data: " line per line of
// data ("\r\n", "\r" and "\n" all end a line), then a blank line.
std::string sse_frame(std::string_view event, std::string_view data);

// Thread-safe. Each open stream is served by a thread of its own (at most max_streams), which
// waits for queued events and writes them; publish() never blocks on a client: it appends to
// each following stream's bounded queue, and a stream whose queue is full (a client that
// stopped reading) is closed instead.
class SseHub {
 public:
  explicit SseHub(SseOptions options = {});
  ~SseHub();  // stop(), then waits for every stream thread
  SseHub(const SseHub&) = delete;
  SseHub& operator=(const SseHub&) = delete;

  // GET /events (exact, loopback only, streamed). Returns the route id (0 if taken).
  http::RouteId register_route(http::Router& router);

  // Errc::invalid for a bad channel or event name, data over 64 KiB or containing NUL.
  // Returns the number of streams the event was queued for (0 once stopped).
  Result<std::size_t> publish(std::string_view channel, std::string_view event,
                              std::string_view data);
  // Open streams following `channel` (publishers may skip work nobody watches).
  std::size_t followers(std::string_view channel) const;
  std::size_t open_streams() const;

  // Ends every stream (the last chunk is sent, so clients see a clean end), refuses new ones
  // with 503 and makes publish() a no-op. Does not wait: a thread blocked on a stalled client
  // ends when the server closes that connection; the destructor joins them all.
  void stop();

 private:
  struct Stream;
  void serve(const std::shared_ptr<Stream>& stream,
             const std::shared_ptr<http::Exchange>& exchange);
  void refuse(std::shared_ptr<http::Exchange> exchange, unsigned status, std::string why);
  void on_request(http::Request&& request, std::shared_ptr<http::Exchange> exchange);
  void reap_locked();

  SseOptions options_;
  mutable std::mutex mu_;
  bool stopped_ = false;
  std::list<std::shared_ptr<Stream>> streams_;
  // A stream's thread, or a short one answering a refused request (respond() blocks, and the
  // route handler must not).
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::size_t refusing_ = 0;  // workers answering refusals (capped; beyond: dropped, a 500)
  std::list<Worker> workers_;
};

}  // namespace mesh::web
