#include "heartbeat.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <cstdlib>

namespace mesh::gossip {
namespace {

boost::json::object plugin_values(const EngineOptions& options) {
  boost::json::object out;
  if (!options.heartbeat_plugins) return out;
  std::map<std::string, std::string> values;
  try {
    values = options.heartbeat_plugins();
  } catch (const std::exception& e) {
    spdlog::warn("gossip: heartbeat plugin values: {}", e.what());
    return out;
  }
  for (const auto& [id, text] : values) {
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (!ec) out[id] = std::move(v);
  }
  return out;
}

}  // namespace

std::string heartbeat_payload(const EngineOptions& options,
                              const std::vector<std::string>& linked) {
  double load[1] = {0};
  if (::getloadavg(load, 1) < 1) load[0] = 0;
  boost::json::object o;
  o["name"] = options.self_name;
  o["load"] = load[0];
  o["links"] = linked.size();
  // Who hears this node's live events from it directly: relays leave those out (engine.cpp).
  boost::json::array ids;
  for (const auto& id : linked) ids.emplace_back(id);
  o["linked"] = std::move(ids);
  boost::json::array caps;
  if (options.capabilities) {
    for (auto& c : options.capabilities()) {
      if (caps.size() >= 64) break;  // the payload stays small: it goes out every 5 s
      caps.emplace_back(c.substr(0, 64));
    }
  }
  o["capabilities"] = std::move(caps);
  o["plugins"] = plugin_values(options);
  std::string payload = boost::json::serialize(o);
  // Too large for one event: leave out the largest plugin values until it fits.
  while (payload.size() > kMaxPayload && !o["plugins"].as_object().empty()) {
    auto& plugins = o["plugins"].as_object();
    auto largest = plugins.begin();
    std::size_t largest_size = 0;
    for (auto it = plugins.begin(); it != plugins.end(); ++it) {
      std::size_t n = boost::json::serialize(it->value()).size();
      if (n > largest_size) {
        largest = it;
        largest_size = n;
      }
    }
    spdlog::warn("gossip: heartbeat too large; leaving out plugin '{}' ({} bytes)",
                 std::string(largest->key()), largest_size);
    plugins.erase(largest);
    payload = boost::json::serialize(o);
  }
  return payload;
}

std::set<std::string> heartbeat_linked(std::span<const std::uint8_t> payload) {
  std::set<std::string> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(
      std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()), ec);
  const auto* o = ec ? nullptr : v.if_object();
  const auto* list = o ? o->if_contains("linked") : nullptr;
  if (!list || !list->is_array()) return out;
  for (const auto& e : list->as_array()) {
    if (out.size() >= 1024) break;
    if (const auto* id = e.if_string(); id && id->size() <= 64) out.emplace(*id);
  }
  return out;
}

}  // namespace mesh::gossip
