#include "state.hpp"

#include <sodium.h>

#include <boost/json.hpp>
#include <chrono>

#include "digest.hpp"
#include "fsutil.hpp"

namespace mesh::updater {
namespace json = boost::json;

namespace {

constexpr std::uint64_t kMaxStateBytes = 64 * 1024;

std::string field(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}
std::int64_t number(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_int64() ? v->get_int64() : 0;
}

}  // namespace

Result<std::optional<Attempt>> read_attempt(const std::filesystem::path& file) {
  auto text = read_small_file(file, kMaxStateBytes);
  if (!text) {
    if (text.error().code == Errc::not_found) return std::optional<Attempt>();
    return text.error();
  }
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return make_error(Errc::invalid, file.string() + " is malformed");
  const auto& o = v.get_object();
  Attempt a;
  a.attempt = field(o, "attempt");
  a.kind = field(o, "kind");
  a.from = field(o, "from");
  a.to = field(o, "to");
  a.started_ms = number(o, "started_ms");
  a.watchdog_pid = number(o, "watchdog_pid");
  a.result = field(o, "result");
  a.reason = field(o, "reason");
  a.running = field(o, "running");
  a.ended_ms = number(o, "ended_ms");
  return std::optional<Attempt>(std::move(a));
}

std::string attempt_json(const Attempt& a) {
  json::object o{{"attempt", a.attempt},
                 {"kind", a.kind},
                 {"from", a.from},
                 {"to", a.to},
                 {"started_ms", a.started_ms}};
  if (a.watchdog_pid) o["watchdog_pid"] = a.watchdog_pid;
  if (!a.result.empty()) {
    o["result"] = a.result;
    o["reason"] = a.reason;
    o["running"] = a.running;
    o["ended_ms"] = a.ended_ms;
  }
  return json::serialize(o);
}

Status write_attempt(const std::filesystem::path& file, const Attempt& a) {
  return write_file_durable(file, attempt_json(a) + "\n");
}

std::string describe(const Attempt& a) {
  const std::string what = a.kind == "rollback" ? "rollback" : "update";
  if (a.result == "updated") {
    return (a.kind == "rollback" ? "rolled back by hand from " : "updated from ") + a.from +
           " to " + a.to;
  }
  if (a.result == "rolled_back") {
    return "the " + what + " to " + a.to + " failed its health check and was rolled back to " +
           a.from + ": " + a.reason;
  }
  if (a.result == "aborted") return "the " + what + " to " + a.to + " did not start: " + a.reason;
  if (a.result == "broken") {
    return "the " + what + " to " + a.to + " failed and " + a.from +
           " did not come back either: " + a.reason;
  }
  return "an " + what + " from " + a.from + " to " + a.to + " is in progress";
}

std::string random_attempt_id() {
  unsigned char b[8];
  randombytes_buf(b, sizeof b);
  return to_hex(b, sizeof b);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace mesh::updater
