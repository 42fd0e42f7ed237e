#include "gossip_table.hpp"

#include <cstdint>
#include <string>

namespace mesh::config {
namespace {

Error error_at(std::string_view source, const toml::source_region& where, std::string what) {
  std::string msg(source);
  if (where.begin.line > 0) msg += ":" + std::to_string(where.begin.line);
  return make_error(Errc::invalid, msg + ": " + what);
}

// An integer in [min, max]; the range is in the message so the user knows the fix.
template <typename T>
Status set_integer(const toml::node& v, std::string_view source, const std::string& key,
                   std::int64_t min, std::int64_t max, T& field) {
  if (!v.is_integer()) return error_at(source, v.source(), key + ": expected an integer");
  std::int64_t i = v.as_integer()->get();
  if (i < min || i > max) {
    return error_at(source, v.source(),
                    key + ": " + std::to_string(i) + " is out of range (" + std::to_string(min) +
                        " .. " + std::to_string(max) + ")");
  }
  field = static_cast<T>(i);
  return {};
}

}  // namespace

Status parse_gossip_table(const toml::node& node, std::string_view source, GossipConfig& out) {
  if (!node.is_table()) return error_at(source, node.source(), "gossip: expected a table");
  for (auto&& [k, v] : *node.as_table()) {
    std::string key = "gossip." + std::string(k.str());
    Status st;
    if (k == "max_events_per_minute") {
      st = set_integer(v, source, key, 1, 1'000'000, out.max_events_per_minute);
    } else if (k == "event_burst") {
      st = set_integer(v, source, key, 1, 10'000'000, out.event_burst);
    } else if (k == "max_feed_bytes_per_day") {
      st = set_integer(v, source, key, std::int64_t{1} << 20, std::int64_t{1} << 40,
                       out.max_feed_bytes_per_day);
    } else if (k == "max_live_per_minute") {
      st = set_integer(v, source, key, 1, 1'000'000, out.max_live_per_minute);
    } else if (k == "max_sync_per_minute") {
      st = set_integer(v, source, key, 1, 100'000, out.max_sync_per_minute);
    } else {
      const auto& where = k.source().begin.line > 0 ? k.source() : v.source();
      return error_at(source, where,
                      "unknown key \"" + key +
                          "\" (known: max_events_per_minute, event_burst, "
                          "max_feed_bytes_per_day, max_live_per_minute, max_sync_per_minute)");
    }
    if (!st) return st;
  }
  return {};
}

}  // namespace mesh::config
