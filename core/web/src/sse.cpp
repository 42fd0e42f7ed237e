#include "mesh/web/sse.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/url/parse_query.hpp>
#include <deque>

#include "mesh/web/layout.hpp"

namespace mesh::web {
namespace {

constexpr std::size_t kMaxChannel = 128;
constexpr std::size_t kMaxData = 64 * 1024;
constexpr std::size_t kMaxRefusing = 4;

}  // namespace

bool valid_channel(std::string_view name) {
  if (name.empty() || name.size() > kMaxChannel) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return alnum(c) || c == '.' || c == '_' || c == '/' || c == '-';
  });
}

std::string sse_frame(std::string_view event, std::string_view data) {
  std::string out = "event: ";
  out += event;
  out += '\n';
  std::size_t i = 0;
  while (true) {
    const auto end = data.find_first_of("\r\n", i);
    out += "data: ";
    out += data.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
    out += '\n';
    if (end == std::string_view::npos) break;
    i = end + 1;
    if (data[end] == '\r' && i < data.size() && data[i] == '\n') ++i;
    if (i == data.size()) break;  // a trailing line end adds no empty line
  }
  out += '\n';
  return out;
}

struct SseHub::Stream {
  std::vector<std::string> channels;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;  // frames not yet written
  std::size_t bytes = 0;
  bool overflow = false;  // the client fell behind: close without waiting
  bool stop = false;      // the hub stops: end cleanly

  bool follows(std::string_view channel) const {
    return std::find(channels.begin(), channels.end(), channel) != channels.end();
  }
};

SseHub::SseHub(SseOptions options) : options_(options) {}

SseHub::~SseHub() {
  stop();
  std::list<Worker> workers;
  {
    std::lock_guard lock(mu_);
    workers = std::move(workers_);
  }
  for (auto& w : workers) {
    if (w.thread.joinable()) w.thread.join();
  }
}

http::RouteId SseHub::register_route(http::Router& router) {
  http::RouteOptions opts;
  opts.access = http::Access::local;
  opts.max_body = 0;
  opts.exact = true;
  http::RouteId id = 0;
  if (!router.try_add_stream(
          "GET", "/events", opts,
          [this](http::Request&& req, std::shared_ptr<http::Exchange> ex) {
            on_request(std::move(req), std::move(ex));
          },
          &id)) {
    return 0;
  }
  return id;
}

// On the connection's I/O strand: decide, then hand the exchange to a thread (its calls block).
void SseHub::on_request(http::Request&& request, std::shared_ptr<http::Exchange> exchange) {
  std::vector<std::string> channels;
  std::string bad;
  auto query = boost::urls::parse_query(request.query);
  if (!query) {
    bad = "malformed query";
  } else {
    for (const auto& param : *query) {
      if (param.key.decode() != "ch") continue;
      std::string ch = param.has_value ? param.value.decode() : std::string();
      if (!valid_channel(ch)) {
        bad = "bad channel name (want [a-z0-9][a-z0-9._/-]{0,127})";
        break;
      }
      if (std::find(channels.begin(), channels.end(), ch) == channels.end()) {
        channels.push_back(std::move(ch));
      }
    }
    if (bad.empty() && channels.empty()) bad = "name at least one channel: /events?ch=<channel>";
    if (bad.empty() && channels.size() > options_.max_channels) {
      bad = "at most " + std::to_string(options_.max_channels) + " channels per stream";
    }
  }
  if (!bad.empty()) return refuse(std::move(exchange), 400, bad + "\n");

  std::unique_lock lock(mu_);
  reap_locked();
  if (stopped_) {
    lock.unlock();
    return refuse(std::move(exchange), 503, "the node is shutting down\n");
  }
  if (const std::size_t open = streams_.size(); open >= options_.max_streams) {
    lock.unlock();
    spdlog::info("web: refusing an event stream from {}: {} are open", request.remote, open);
    return refuse(std::move(exchange), 503,
                  "too many open event streams (" + std::to_string(options_.max_streams) + ")\n");
  }
  auto stream = std::make_shared<Stream>();
  stream->channels = std::move(channels);
  auto done = std::make_shared<std::atomic<bool>>(false);
  try {
    std::thread t([this, stream, exchange, done] {
      serve(stream, exchange);
      std::lock_guard l(mu_);
      streams_.remove(stream);
      *done = true;
    });
    streams_.push_back(stream);
    workers_.push_back(Worker{std::move(t), std::move(done)});
  } catch (const std::system_error& e) {
    // No thread: the dropped exchange answers 500.
    spdlog::error("web: cannot start an event stream thread: {}", e.what());
  }
}

void SseHub::refuse(std::shared_ptr<http::Exchange> exchange, unsigned status, std::string why) {
  std::lock_guard lock(mu_);
  reap_locked();
  if (refusing_ >= kMaxRefusing) return;  // dropping the exchange answers 500
  auto done = std::make_shared<std::atomic<bool>>(false);
  try {
    std::thread t([this, exchange = std::move(exchange), status, why = std::move(why), done] {
      http::Response r = http::Response::text(status, why);
      for (auto& h : security_headers(Content::stream)) r.headers.push_back(std::move(h));
      (void)exchange->respond(std::move(r));
      std::lock_guard l(mu_);
      --refusing_;
      *done = true;
    });
    ++refusing_;
    workers_.push_back(Worker{std::move(t), std::move(done)});
  } catch (const std::system_error& e) {
    spdlog::error("web: cannot start a thread to answer {}: {}", status, e.what());
  }
}

void SseHub::reap_locked() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (*it->done) {
      it->thread.join();  // it has finished or is returning this instant
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void SseHub::serve(const std::shared_ptr<Stream>& stream,
                   const std::shared_ptr<http::Exchange>& exchange) {
  auto headers = security_headers(Content::stream);
  headers.emplace_back("Content-Type", "text/event-stream; charset=utf-8");
  headers.emplace_back("X-Accel-Buffering", "no");
  // A stream ends only when the hub stops or the client lags: never reuse its connection.
  headers.emplace_back("Connection", "close");
  if (!exchange->begin(200, std::move(headers))) return;
  // The reconnect hint first, and a comment so the client sees bytes at once.
  if (!exchange->write("retry: " + std::to_string(options_.retry.count()) + "\n: open\n\n")) {
    return;
  }
  for (;;) {
    std::string batch;
    bool overflow = false, stop = false;
    {
      std::unique_lock lock(stream->mu);
      const bool woken = stream->cv.wait_for(lock, options_.keepalive, [&] {
        return !stream->queue.empty() || stream->overflow || stream->stop;
      });
      overflow = stream->overflow;
      stop = stream->stop;
      for (auto& f : stream->queue) batch += f;
      stream->queue.clear();
      stream->bytes = 0;
      if (!woken) batch = ": keep-alive\n\n";
    }
    if (overflow) {
      // The client stopped reading: close rather than let the queue (or a publisher) wait.
      spdlog::info("web: closing an event stream that fell behind by over {} bytes",
                   options_.queue_bytes);
      (void)exchange->end(false);
      return;
    }
    if (!batch.empty() && !exchange->write(batch)) return;  // the client went away
    if (stop) {
      (void)exchange->end(true);
      return;
    }
  }
}

Result<std::size_t> SseHub::publish(std::string_view channel, std::string_view event,
                                    std::string_view data) {
  if (!valid_channel(channel)) {
    return make_error(Errc::invalid, "bad channel name (want [a-z0-9][a-z0-9._/-]{0,127})");
  }
  if (!valid_channel(event)) {
    return make_error(Errc::invalid, "bad event name (want [a-z0-9][a-z0-9._/-]{0,127})");
  }
  if (data.size() > kMaxData) {
    return make_error(Errc::invalid, "event data is over " + std::to_string(kMaxData) + " bytes");
  }
  if (data.find('\0') != std::string_view::npos) {
    return make_error(Errc::invalid, "event data must not contain NUL bytes");
  }
  const std::string frame = sse_frame(event, data);
  std::size_t reached = 0;
  std::lock_guard lock(mu_);
  if (stopped_) return reached;
  for (const auto& s : streams_) {
    if (!s->follows(channel)) continue;
    std::lock_guard sl(s->mu);
    if (s->overflow || s->stop) continue;
    if (s->bytes + frame.size() > options_.queue_bytes) {
      s->overflow = true;
    } else {
      s->queue.push_back(frame);
      s->bytes += frame.size();
      ++reached;
    }
    s->cv.notify_one();
  }
  return reached;
}

std::size_t SseHub::followers(std::string_view channel) const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(
      streams_.begin(), streams_.end(), [&](const auto& s) { return s->follows(channel); }));
}

std::size_t SseHub::open_streams() const {
  std::lock_guard lock(mu_);
  return streams_.size();
}

void SseHub::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  for (const auto& s : streams_) {
    std::lock_guard sl(s->mu);
    s->stop = true;
    s->cv.notify_one();
  }
}

}  // namespace mesh::web
