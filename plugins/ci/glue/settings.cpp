#include "settings.hpp"

#include <boost/json.hpp>

namespace mesh::ci {
namespace json = boost::json;
namespace {

Result<std::uint64_t> integer(const json::value& v, std::string_view key, std::uint64_t lo,
                              std::uint64_t hi) {
  std::uint64_t n = 0;
  if (v.is_uint64()) {
    n = v.get_uint64();
  } else if (v.is_int64() && v.get_int64() >= 0) {
    n = static_cast<std::uint64_t>(v.get_int64());
  } else {
    return fail(std::string(key) + ": expected an integer");
  }
  if (n < lo || n > hi)
    return fail(std::string(key) + ": must be " + std::to_string(lo) + ".." + std::to_string(hi));
  return n;
}

// The runner policy was once read here; it is the host's [runner] table now.
bool is_runner_key(std::string_view k) {
  return k == "enabled" || k == "modes" || k == "labels" || k == "max_concurrent_jobs" ||
         k == "env_passthrough" || k == "job_log_max_bytes";
}

}  // namespace

Result<Settings> parse_settings(std::string_view text) {
  std::error_code ec;
  json::value v = json::parse(text.empty() ? std::string_view("{}") : text, ec);
  if (ec || !v.is_object()) return fail("[plugins.ci]: expected a table");
  Settings s;
  for (const auto& [key, value] : v.get_object()) {
    if (is_runner_key(key))
      return fail(std::string(key) +
                  ": the runner policy is the [runner] table of mesh.toml "
                  "(docs/ci.md), not [plugins.ci]");
    Result<std::uint64_t> n = fail("");
    if (key == "retention_days") {
      n = integer(value, key, 1, 3650);
      if (n) s.retention_days = static_cast<std::uint32_t>(*n);
    } else if (key == "max_runs") {
      n = integer(value, key, 10, 10'000);
      if (n) s.max_runs = static_cast<std::uint32_t>(*n);
    } else if (key == "queue_timeout_ms") {
      n = integer(value, key, 1'000, 14ull * 60 * 1000);
      if (n) s.queue_timeout_ms = *n;
    } else if (key == "commit_wait_ms") {
      n = integer(value, key, 0, 9'000);
      if (n) s.commit_wait_ms = *n;
    } else if (key == "push_max_age_ms") {
      n = integer(value, key, 1'000, 24ull * 3600 * 1000);
      if (n) s.push_max_age_ms = *n;
    } else {
      return fail(std::string(key) +
                  ": unknown key (known: retention_days, max_runs, queue_timeout_ms, "
                  "commit_wait_ms, push_max_age_ms)");
    }
    if (!n) return n.error();
  }
  return s;
}

}  // namespace mesh::ci
