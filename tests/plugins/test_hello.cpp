// test-hello: the SDK's reference test plugin, written with mesh/plugin.hpp.
//   GET /hello          "hello from test-hello\n" (+ the configured greeting)
//   GET /hello/ticks    how often its 10 ms timer fired
//   GET /hello/hang     never answered by the plugin (the host answers 503 when it stops)
//   mesh hello ARGS...  echoes its arguments; with --json answers {"plugin":..,"args":[..]}
//   mesh hello-hang     never answered by the plugin
//   mesh hello-publish N [TOPIC]
//                       publishes N stored events "event-1".."event-N" on TOPIC (test.hello)
//   mesh hello-seen     prints <data_dir>/seen.log
//   mesh hello-sub NAME PATTERN / hello-unsub NAME
//                       (un)subscribes a handler that accepts everything; prints the host's
//                       status code (for the host's validation and limit tests)
// Subscription "seen" (ABI 1.1) on test.hello: appends "<origin> <seq> <payload>\n" to
// <data_dir>/seen.log for each event (flushed and fsync'd before the handler returns, and never
// deduplicated here: the integration tests check the host's exactly-once delivery with it).
// A payload starting with "retry" is refused (handler returns false) while the file
// <data_dir>/refuse exists; one starting with "slow-<ms>" sleeps that long first. On a host
// without events the subscription is skipped.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mutex>
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

class Hello : public mesh::sdk::Plugin {
 public:
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
    try {
      subscribe("seen", "test.hello", [this](const mesh::sdk::Event& e) { return seen(e); });
    } catch (const mesh::sdk::Error& e) {
      if (e.code() != MESH_E_UNSUPPORTED) throw;
      host().warn("no events on this host; subscription 'seen' skipped");
    }
    host().info("test-hello started");
  }
  void stop() override { host().info("test-hello stopping"); }

 private:
  bool seen(const mesh::sdk::Event& e) {
    if (e.payload().substr(0, 5) == "slow-") {
      unsigned ms = 0;
      for (char ch : e.payload().substr(5))
        if (ch >= '0' && ch <= '9') ms = ms * 10 + unsigned(ch - '0');
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
    if (e.payload().substr(0, 5) == "retry" && ::access((data_dir_ + "/refuse").c_str(), F_OK) == 0)
      return false;
    std::string line = std::string(e.origin()) + " " + std::to_string(e.seq()) + " ";
    for (char ch : e.payload()) line += ch == '\n' ? ' ' : ch;
    line += '\n';
    std::lock_guard<std::mutex> lock(seen_mu_);
    int fd =
        ::open((data_dir_ + "/seen.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return false;  // retried later
    bool ok = write_all(fd, line) && ::fsync(fd) == 0;
    ::close(fd);
    return ok;
  }

  std::string greeting_;
  std::string data_dir_;
  std::mutex seen_mu_;
  std::atomic<unsigned> ticks_{0};
};

}  // namespace

MESH_PLUGIN(Hello, "test-hello", "1.0.0");
