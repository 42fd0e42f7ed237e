// test-hello: the SDK's reference test plugin, written with mesh/plugin.hpp.
//   GET /hello          "hello from test-hello\n" (+ the configured greeting)
//   GET /hello/ticks    how often its 10 ms timer fired
//   GET /hello/hang     never answered by the plugin (the host answers 503 when it stops)
//   mesh hello ARGS...  echoes its arguments; with --json answers {"plugin":..,"args":[..]}
//   mesh hello-hang     never answered by the plugin
//   mesh hello-publish N [TOPIC]
//                       publishes N stored events "event-1".."event-N" on TOPIC (test.hello)
//   mesh hello-say TOPIC PAYLOAD
//                       publishes one stored event with exactly PAYLOAD on TOPIC (a member
//                       sending what a plugin would refuse, for the issues tests)
//   mesh hello-seen     prints <data_dir>/seen.log
//   mesh hello-sub NAME PATTERN / hello-unsub NAME
//                       (un)subscribes a handler that accepts everything; prints the host's
//                       status code (for the host's validation and limit tests)
// Settings ([plugins.test-hello]): greeting (shown by GET /hello; at most 64 characters) and
// limit (unused; must be a positive number), checked by check_config (ABI 1.3).
// ABI 1.2:
//   POST /hello/echo    streamed: the body comes back as it arrives (one thread reads, another
//                       writes); 200, application/octet-stream, chunked
//   GET /hello/local    "local only\n", loopback clients only (members get 403)
//   mesh hello-peer HOST:PORT PEER-ID|any [PATH]
//                       GET PATH (default /hello) from a member over a peer connection and
//                       print the raw response
//   mesh hello-beat JSON
//                       heartbeat_set(JSON) (empty clears); prints the host's status code
// ABI 1.3:
//   mesh hello-status JSON [TEXT [HTML]]
//                       status_set(JSON, TEXT, HTML); prints the host's status code
//   mesh hello-repos    prints repos_dir()
// Subscription "seen" (ABI 1.1) on test.hello: appends "<origin> <seq> <payload>\n" to
// <data_dir>/seen.log for each event (flushed and fsync'd before the handler returns, and never
// deduplicated here: the integration tests check the host's exactly-once delivery with it).
// A payload starting with "retry" is refused (handler returns false, and the payload is
// appended to <data_dir>/refused.log) while the file <data_dir>/refuse exists; one starting with
// "slow-<ms>" sleeps that long first. On a host without events the subscription is skipped.
// Subscription "local" (pattern "local") appends
// "<topic> <payload> ephemeral|stored\n" to <data_dir>/local.log for node-local events.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "mesh/plugin.hpp"

namespace {

// Extracts a top-level string member from a small JSON object (enough for a test setting).
std::string json_string(std::string_view json, std::string_view key) {
  std::string needle = "\"" + std::string(key) + "\"";
  size_t p = json.find(needle);
  if (p == std::string_view::npos) return {};
  p = json.find(':', p + needle.size());
  if (p == std::string_view::npos) return {};
  p = json.find('"', p);
  if (p == std::string_view::npos) return {};
  std::string out;
  for (size_t i = p + 1; i < json.size(); ++i) {
    char c = json[i];
    if (c == '"') return out;
    if (c == '\\' && i + 1 < json.size()) c = json[++i];
    out += c;
  }
  return {};
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static const char hex[] = "0123456789abcdef";
      out += "\\u00";
      out += hex[(c >> 4) & 0xf];
      out += hex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Echoes a streamed call: a reader thread hands chunks to this one through a small bounded
// queue, so reading and writing really overlap (the host allows one of each at a time).
void echo(const mesh::sdk::HttpStream& s) {
  struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::string> chunks;
    bool eof = false;
    int64_t error = 0;
    bool stop = false;
  } q;
  if (s.begin(200, {{"Content-Type", "application/octet-stream"}}) != MESH_OK) {
    s.end(false);
    return;
  }
  std::thread reader([&] {
    std::string buf(64 * 1024, '\0');
    for (;;) {
      int64_t n = s.read(&buf[0], buf.size());
      std::unique_lock<std::mutex> lock(q.mu);
      if (n <= 0) {
        q.eof = true;
        q.error = n;
        q.cv.notify_all();
        return;
      }
      q.cv.wait(lock, [&] { return q.chunks.size() < 8 || q.stop; });
      if (q.stop) return;
      q.chunks.emplace_back(buf.data(), static_cast<size_t>(n));
      q.cv.notify_all();
    }
  });
  bool ok = true;
  for (;;) {
    std::string chunk;
    {
      std::unique_lock<std::mutex> lock(q.mu);
      q.cv.wait(lock, [&] { return !q.chunks.empty() || q.eof; });
      if (q.chunks.empty()) {
        ok = q.error == 0;
        break;
      }
      chunk = std::move(q.chunks.front());
      q.chunks.pop_front();
      q.cv.notify_all();
    }
    if (s.write(chunk) != MESH_OK) {
      ok = false;
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(q.mu);
    q.stop = true;
    q.cv.notify_all();
  }
  s.end(ok);  // aborting also wakes a reader still blocked in read()
  reader.join();
}

class Hello : public mesh::sdk::Plugin {
 public:
  // ABI 1.3 settings check: "greeting" at most 64 characters, "limit" (if set) positive.
  static void check_config(const std::string& json) {
    if (json_string(json, "greeting").size() > 64)
      throw std::invalid_argument("greeting: at most 64 characters");
    auto at = json.find("\"limit\"");
    if (at == std::string::npos) return;
    at = json.find(':', at);
    auto value = at == std::string::npos ? std::string() : json.substr(at + 1, 24);
    long limit = 0;
    try {
      limit = std::stol(value);
    } catch (...) {
      throw std::invalid_argument("limit: must be a number");
    }
    if (limit <= 0) throw std::invalid_argument("limit: must be positive");
  }

  void start() override {
    greeting_ = json_string(host().config_json(), "greeting");
    data_dir_ = host().data_dir();
    route("GET", "/hello", [this](const mesh::sdk::HttpRequest& r) {
      if (r.path() == "/hello/ticks") {
        r.respond(mesh::sdk::HttpResponse::text(200, std::to_string(ticks_.load()) + "\n"));
        return;
      }
      if (r.path() == "/hello/hang") return;  // answered by the host on stop
      std::string body = "hello from test-hello\n";
      if (!greeting_.empty()) body += greeting_ + "\n";
      r.respond(mesh::sdk::HttpResponse::text(200, body));
    });
    verb("hello", "say hello (test plugin)", [](const mesh::sdk::CliRequest& c) {
      if (c.json()) {
        std::string out = "{\"plugin\":\"test-hello\",\"args\":[";
        for (size_t i = 0; i < c.args().size(); ++i)
          out += (i ? ",\"" : "\"") + json_escape(c.args()[i]) + "\"";
        c.reply(0, out + "]}");
        return;
      }
      std::string out = "hello";
      for (auto a : c.args()) out += " " + std::string(a);
      c.reply(0, out + "\n");
    });
    verb("hello-hang", "never answers (test plugin)",
         [](const mesh::sdk::CliRequest& c) { c.chunk("waiting...\n"); });
    timer(std::chrono::milliseconds(10), true, [this] { ++ticks_; });

    verb("hello-publish", "hello-publish N [TOPIC]: publish N test events (test plugin)",
         [this](const mesh::sdk::CliRequest& c) {
           if (c.args().empty() || c.args().size() > 2)
             return void(c.reply(2, "usage: mesh hello-publish N [TOPIC]\n"));
           unsigned long n = 0;
           try {
             n = std::stoul(std::string(c.args()[0]));
           } catch (...) {
             return void(c.reply(2, "N must be a number\n"));
           }
           std::string topic = c.args().size() > 1 ? std::string(c.args()[1]) : "test.hello";
           uint64_t first = 0, last = 0;
           for (unsigned long i = 1; i <= n; ++i) {
             uint64_t seq = 0;
             std::string err;
             int32_t rc = host().publish(topic, "event-" + std::to_string(i), &seq, &err);
             if (rc != MESH_OK)
               return void(c.reply(1, "publish " + std::to_string(i) + " failed (code " +
                                          std::to_string(rc) + "): " + err + "\n"));
             if (i == 1) first = seq;
             last = seq;
           }
           c.reply(0, "published " + std::to_string(n) + " events on " + topic + " (seq " +
                          std::to_string(first) + ".." + std::to_string(last) + ")\n");
         });
    verb("hello-say", "hello-say TOPIC PAYLOAD: publish one event (test plugin)",
         [this](const mesh::sdk::CliRequest& c) {
           if (c.args().size() != 2)
             return void(c.reply(2, "usage: mesh hello-say TOPIC PAYLOAD\n"));
           uint64_t seq = 0;
           std::string err;
           int32_t rc =
               host().publish(std::string(c.args()[0]), std::string(c.args()[1]), &seq, &err);
           if (rc != MESH_OK)
             return void(
                 c.reply(1, "publish failed (code " + std::to_string(rc) + "): " + err + "\n"));
           c.reply(0, "published seq " + std::to_string(seq) + "\n");
         });
    verb("hello-seen", "print the events the test plugin has seen", [this](const auto& c) {
      std::string out;
      if (FILE* f = std::fopen((data_dir_ + "/seen.log").c_str(), "rb")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
        std::fclose(f);
      }
      c.reply(0, out);
    });
    verb("hello-sub", "hello-sub NAME PATTERN (test plugin)", [this](const auto& c) {
      if (c.args().size() != 2) return void(c.reply(2, "usage: mesh hello-sub NAME PATTERN\n"));
      try {
        subscribe(c.args()[0], c.args()[1], [](const mesh::sdk::Event&) { return true; });
        c.reply(0, "0\n");
      } catch (const mesh::sdk::Error& e) {
        c.reply(1, std::to_string(e.code()) + " " + e.what() + "\n");
      }
    });
    verb("hello-unsub", "hello-unsub NAME (test plugin)", [this](const auto& c) {
      if (c.args().size() != 1) return void(c.reply(2, "usage: mesh hello-unsub NAME\n"));
      int32_t rc = unsubscribe(c.args()[0]);
      c.reply(rc == MESH_OK ? 0 : 1, std::to_string(rc) + "\n");
    });
    // ---- ABI 1.2 ----
    stream_route("POST", "/hello/echo",
                 [this](const mesh::sdk::HttpRequest&, mesh::sdk::HttpStream s) {
                   spawn([s] { echo(s); });  // never read from the handler itself
                 });
    route(
        "GET", "/hello/local",
        [](const mesh::sdk::HttpRequest& r) {
          r.respond(mesh::sdk::HttpResponse::text(200, "local only\n"));
        },
        1u << 20, MESH_ROUTE_LOCAL);
    verb("hello-peer", "hello-peer HOST:PORT PEER-ID|any [PATH] (test plugin)",
         [this](const mesh::sdk::CliRequest& c) {
           if (c.args().size() < 2 || c.args().size() > 3)
             return void(c.reply(2, "usage: mesh hello-peer HOST:PORT PEER-ID|any [PATH]\n"));
           std::string addr(c.args()[0]), pin(c.args()[1]);
           std::string path = c.args().size() > 2 ? std::string(c.args()[2]) : "/hello";
           if (pin == "any") pin.clear();
           uint64_t call = c.call_id();
           spawn([this, addr, pin, path, call] { peer_get(call, addr, pin, path); });
         });
    // ---- ABI 1.3 ----
    verb("hello-status", "hello-status JSON [TEXT [HTML]]: status_set (test plugin)",
         [this](const mesh::sdk::CliRequest& c) {
           if (c.args().empty() || c.args().size() > 3)
             return void(c.reply(2, "usage: mesh hello-status JSON [TEXT [HTML]]\n"));
           auto arg = [&](size_t i) { return i < c.args().size() ? c.args()[i] : ""; };
           int32_t rc = host().status_set(arg(0), arg(1), arg(2));
           c.reply(rc == MESH_OK ? 0 : 1, std::to_string(rc) + "\n");
         });
    verb("hello-repos", "print repos_dir (test plugin)",
         [this](const mesh::sdk::CliRequest& c) { c.reply(0, host().repos_dir() + "\n"); });
    verb("hello-beat", "hello-beat JSON: set this plugin's heartbeat value (test plugin)",
         [this](const mesh::sdk::CliRequest& c) {
           if (c.args().size() != 1) return void(c.reply(2, "usage: mesh hello-beat JSON\n"));
           int32_t rc = heartbeat_set(c.args()[0]);
           c.reply(rc == MESH_OK ? 0 : 1, std::to_string(rc) + "\n");
         });

    try {
      subscribe("seen", "test.hello", [this](const mesh::sdk::Event& e) { return seen(e); });
      subscribe("local", "local", [this](const mesh::sdk::Event& e) {
        return append("local.log", std::string(e.topic()) + " " + std::string(e.payload()) +
                                       (e.ephemeral() ? " ephemeral" : " stored") + "\n");
      });
    } catch (const mesh::sdk::Error& e) {
      if (e.code() != MESH_E_UNSUPPORTED) throw;
      host().warn("no events on this host; subscriptions 'seen' and 'local' skipped");
    }
    host().info("test-hello started");
  }
  void stop() override {
    host().info("test-hello stopping");
    // The host has aborted streamed calls and closed peer connections: every worker returns.
    std::list<Worker> workers;
    {
      std::lock_guard<std::mutex> lock(workers_mu_);
      workers.swap(workers_);
    }
    for (auto& w : workers) w.thread.join();
  }

 private:
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  // Runs fn on a thread of its own; finished threads are joined on the next spawn and in stop.
  void spawn(std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(workers_mu_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    workers_.push_back(Worker{std::thread([fn = std::move(fn), done] {
                                fn();
                                *done = true;
                              }),
                              done});
  }

  void peer_get(uint64_t call, const std::string& addr, const std::string& pin,
                const std::string& path) {
    mesh::sdk::PeerConn conn;
    std::string err;
    int32_t rc = conn.connect(host(), addr, pin, 10'000, &err);
    if (rc != MESH_OK) {
      host().cli_respond(call, 1,
                         "peer_connect failed (code " + std::to_string(rc) + "): " + err + "\n");
      return;
    }
    rc = conn.write("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if (rc != MESH_OK) {
      host().cli_respond(call, 1, "peer_write failed (code " + std::to_string(rc) + ")\n");
      return;
    }
    std::string out;
    char buf[16 * 1024];
    while (out.size() < (1u << 20)) {
      int64_t n = conn.read(buf, sizeof buf);
      if (n < 0) {
        host().cli_respond(call, 1, "peer_read failed (code " + std::to_string(n) + ")\n" + out);
        return;
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    host().cli_respond(call, 0, out);
  }

  bool seen(const mesh::sdk::Event& e) {
    if (e.payload().substr(0, 5) == "slow-") {
      unsigned ms = 0;
      for (char ch : e.payload().substr(5))
        if (ch >= '0' && ch <= '9') ms = ms * 10 + unsigned(ch - '0');
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
    if (e.payload().substr(0, 5) == "retry" &&
        ::access((data_dir_ + "/refuse").c_str(), F_OK) == 0) {
      append("refused.log", std::string(e.payload()) + "\n");
      return false;
    }
    std::string line = std::string(e.origin()) + " " + std::to_string(e.seq()) + " ";
    for (char ch : e.payload()) line += ch == '\n' ? ' ' : ch;
    line += '\n';
    return append("seen.log", line);
  }

  // Appends to <data_dir>/<file>, fsync'd; false (the event is retried) if that fails.
  bool append(const std::string& file, const std::string& line) {
    std::lock_guard<std::mutex> lock(seen_mu_);
    int fd =
        ::open((data_dir_ + "/" + file).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    bool ok = write_all(fd, line) && ::fsync(fd) == 0;
    ::close(fd);
    return ok;
  }

  std::string greeting_;
  std::string data_dir_;
  std::mutex seen_mu_;
  std::atomic<unsigned> ticks_{0};
  std::mutex workers_mu_;
  std::list<Worker> workers_;
};

}  // namespace

MESH_PLUGIN(Hello, "test-hello", "1.0.0");
