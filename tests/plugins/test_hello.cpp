// test-hello: the SDK's reference test plugin, written with mesh/plugin.hpp.
//   GET /hello          "hello from test-hello\n" (+ the configured greeting)
//   GET /hello/ticks    how often its 10 ms timer fired
//   GET /hello/hang     never answered by the plugin (the host answers 503 when it stops)
//   mesh hello ARGS...  echoes its arguments; with --json answers {"plugin":..,"args":[..]}
//   mesh hello-hang     never answered by the plugin
#include <atomic>
#include <string>
#include <string_view>

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

class Hello : public mesh::sdk::Plugin {
 public:
  void start() override {
    greeting_ = json_string(host().config_json(), "greeting");
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
    host().info("test-hello started");
  }
  void stop() override { host().info("test-hello stopping"); }

 private:
  std::string greeting_;
  std::atomic<unsigned> ticks_{0};
};

}  // namespace

MESH_PLUGIN(Hello, "test-hello", "1.0.0");
