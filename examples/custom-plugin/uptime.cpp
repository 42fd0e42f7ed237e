// "uptime": a small third-party mesh plugin.
//   mesh uptime            how long the plugin has been running (--json for a JSON document)
//   GET /uptime            the same over HTTP, as JSON
// Settings ([plugins.uptime] in mesh.toml): label = "text shown before the uptime".
#include <chrono>
#include <cstdio>
#include <string>

#include "mesh/plugin.hpp"

namespace {

std::string setting(const std::string& json, const std::string& key) {
  // Good enough for one flat string setting; a real plugin would use a JSON library.
  auto k = json.find("\"" + key + "\"");
  if (k == std::string::npos) return {};
  auto open = json.find('"', json.find(':', k) + 1);
  auto close = open == std::string::npos ? open : json.find('"', open + 1);
  if (close == std::string::npos) return {};
  return json.substr(open + 1, close - open - 1);
}

class Uptime : public mesh::sdk::Plugin {
 public:
  void start() override {
    started_ = std::chrono::steady_clock::now();
    label_ = setting(host().config_json(), "label");
    if (label_.empty()) label_ = "up";

    verb("uptime", "how long the uptime plugin has been running", [this](const auto& call) {
      if (call.json())
        call.reply(0, json());
      else
        call.reply(0, label_ + " " + std::to_string(seconds()) + "s\n");
    });
    route("GET", "/uptime", [this](const mesh::sdk::HttpRequest& r) {
      r.respond(mesh::sdk::HttpResponse::json(200, json()));
    });
    // Once a minute, a line in the daemon's log.
    timer(std::chrono::minutes(1), true,
          [this] { host().info(label_ + " for " + std::to_string(seconds()) + "s"); });
    host().info("uptime plugin started; data dir " + host().data_dir());
  }

 private:
  long long seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                            started_)
        .count();
  }
  std::string json() const { return "{\"seconds\":" + std::to_string(seconds()) + "}"; }

  std::chrono::steady_clock::time_point started_;
  std::string label_;
};

}  // namespace

MESH_PLUGIN(Uptime, "uptime", "0.1.0");
