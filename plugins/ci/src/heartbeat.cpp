#include "heartbeat.hpp"

#include <boost/json.hpp>

#include "limits.hpp"
#include "names.hpp"

namespace mesh::ci {
namespace json = boost::json;
namespace {

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

Result<std::vector<std::string>> string_list(const json::object& o, std::string_view key,
                                             std::size_t max, bool (*valid)(std::string_view)) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::vector<std::string>{};
  if (!v->is_array() || v->get_array().size() > max)
    return fail(std::string(key) + ": not a list of at most " + std::to_string(max));
  std::vector<std::string> out;
  for (const auto& item : v->get_array()) {
    if (!item.is_string() || !valid(item.get_string()))
      return fail(std::string(key) + ": invalid entry");
    out.emplace_back(item.get_string());
  }
  return out;
}

Result<std::uint32_t> small_number(const json::object& o, std::string_view key, std::uint32_t max) {
  const json::value* v = o.if_contains(key);
  if (v && v->is_int64() && v->get_int64() >= 0 && v->get_int64() <= max)
    return static_cast<std::uint32_t>(v->get_int64());
  if (v && v->is_uint64() && v->get_uint64() <= max)
    return static_cast<std::uint32_t>(v->get_uint64());
  return fail(std::string(key) + ": not an integer 0.." + std::to_string(max));
}

Result<RunnerInfo> read_runner(const json::value& v) {
  if (!v.is_object()) return fail("runner is not an object");
  const auto& o = v.get_object();
  RunnerInfo r;
  const json::value* name = o.if_contains("name");
  if (!name || !name->is_string() || !valid_runner_name(name->get_string()))
    return fail("runner name missing or invalid");
  r.name = std::string(name->get_string());
  auto modes = string_list(o, "modes", 16, valid_mode);
  if (!modes) return modes.error();
  r.modes = std::move(*modes);
  auto labels = string_list(o, "labels", limits::kLabels, valid_label);
  if (!labels) return labels.error();
  r.labels = std::move(*labels);
  auto slots = small_number(o, "slots", limits::kMaxSlots);
  if (!slots || *slots == 0) return fail("runner " + r.name + ": slots must be 1..64");
  auto free = small_number(o, "free", *slots);
  if (!free) return fail("runner " + r.name + ": free must be 0..slots");
  r.slots = *slots;
  r.free = *free;
  return r;
}

}  // namespace

std::string heartbeat_part_json(const std::vector<RunnerInfo>& runners, double load) {
  json::object o;
  o["v"] = 1;
  o["load"] = std::max(0.0, std::min(load, 1000.0));
  json::array list;
  o["runners"] = json::array{};
  std::string out = json::serialize(o);
  for (const auto& r : runners) {
    if (list.size() == limits::kRunnersPerNode) break;
    list.push_back(json::object{{"name", r.name},
                                {"modes", strings(r.modes)},
                                {"labels", strings(r.labels)},
                                {"slots", r.slots},
                                {"free", r.free}});
    o["runners"] = list;
    std::string next = json::serialize(o);
    if (next.size() > limits::kHeartbeatBytes) break;
    out = std::move(next);
  }
  return out;
}

Result<NodeInfo> parse_heartbeat_part(const json::value& part) {
  if (!part.is_object()) return fail("ci heartbeat part is not an object");
  const auto& o = part.get_object();
  NodeInfo n;
  if (const json::value* load = o.if_contains("load")) {
    double l = load->is_double()   ? load->get_double()
               : load->is_int64()  ? static_cast<double>(load->get_int64())
               : load->is_uint64() ? static_cast<double>(load->get_uint64())
                                   : -1;
    if (!(l >= 0 && l <= 1000)) return fail("ci heartbeat: load out of range");
    n.load = l;
  }
  const json::value* runners = o.if_contains("runners");
  if (!runners) return n;
  if (!runners->is_array() || runners->get_array().size() > limits::kRunnersPerNode)
    return fail("ci heartbeat: runners is not a list of at most 16");
  for (const auto& r : runners->get_array()) {
    auto info = read_runner(r);
    if (!info) return fail("ci heartbeat: " + info.error().message);
    n.runners.push_back(std::move(*info));
  }
  return n;
}

Result<std::vector<RunnerInfo>> parse_runners_json(std::string_view text) {
  std::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return fail("runners_json is not a JSON array");
  std::vector<RunnerInfo> out;
  for (const auto& r : v.get_array()) {
    auto info = read_runner(r);
    if (!info) return fail("runners_json: " + info.error().message);
    out.push_back(std::move(*info));
  }
  return out;
}

}  // namespace mesh::ci
