#include "settings.hpp"

#include <boost/json.hpp>

namespace mesh::repl {
namespace json = boost::json;
namespace {

constexpr std::string_view kTable = "[plugins.replication] ";
constexpr std::string_view kKnown =
    "push_wait_ms, max_git_processes, max_push_bytes, repos_dir, max_new_repos_per_hour, "
    "max_fetch_bytes_per_hour";

// An integer setting within [lo, hi]; false with *error otherwise.
bool integer(const json::object& cfg, std::string_view key, std::uint64_t lo, std::uint64_t hi,
             std::uint64_t* out, std::string* error) {
  auto* v = cfg.if_contains(key);
  if (!v) return true;
  bool ok = false;
  if (auto* i = v->if_int64()) {
    ok = *i >= 0 && static_cast<std::uint64_t>(*i) >= lo && static_cast<std::uint64_t>(*i) <= hi;
    if (ok) *out = static_cast<std::uint64_t>(*i);
  } else if (auto* u = v->if_uint64()) {
    ok = *u >= lo && *u <= hi;
    if (ok) *out = *u;
  }
  if (!ok) {
    *error = std::string(kTable) + std::string(key) + " must be an integer from " +
             std::to_string(lo) + " to " + std::to_string(hi);
  }
  return ok;
}

}  // namespace

std::optional<Settings> parse_settings(std::string_view text, std::string* error) {
  boost::system::error_code ec;
  json::value v = text.empty() ? json::value(json::object()) : json::parse(text, ec);
  if (ec || !v.is_object()) {
    *error = std::string(kTable) + "is not a table";
    return std::nullopt;
  }
  const json::object& cfg = v.as_object();
  for (const auto& [key, value] : cfg) {
    if (key != "push_wait_ms" && key != "max_git_processes" && key != "max_push_bytes" &&
        key != "repos_dir" && key != "max_new_repos_per_hour" &&
        key != "max_fetch_bytes_per_hour") {
      *error = std::string(kTable) + "has no setting '" + std::string(key) +
               "' (known: " + std::string(kKnown) + ")";
      return std::nullopt;
    }
  }
  Settings s;
  std::uint64_t wait = static_cast<std::uint64_t>(s.push_wait.count());
  std::uint64_t procs = s.max_git_processes;
  std::uint64_t bytes = s.max_push_bytes;
  if (!integer(cfg, "push_wait_ms", 0, 60'000, &wait, error) ||
      !integer(cfg, "max_git_processes", 1, 256, &procs, error) ||
      !integer(cfg, "max_push_bytes", 1, std::uint64_t{64} << 30, &bytes, error) ||
      !integer(cfg, "max_new_repos_per_hour", 1, 1'000'000, &s.max_new_repos_per_hour, error) ||
      !integer(cfg, "max_fetch_bytes_per_hour", std::uint64_t{1} << 20, std::uint64_t{1} << 40,
               &s.max_fetch_bytes_per_hour, error)) {
    return std::nullopt;
  }
  s.push_wait = std::chrono::milliseconds(wait);
  s.max_git_processes = static_cast<unsigned>(procs);
  s.max_push_bytes = bytes;
  if (auto* r = cfg.if_contains("repos_dir")) {
    if (!r->is_string() || r->as_string().empty() || r->as_string()[0] != '/') {
      *error = std::string(kTable) + "repos_dir must be an absolute path";
      return std::nullopt;
    }
    s.repos_dir = std::string(r->as_string());
  }
  return s;
}

std::string check_settings(std::string_view json) {
  std::string why;
  if (parse_settings(json, &why)) return {};
  std::string rule = why.starts_with(kTable) ? why.substr(kTable.size()) : why;
  // "has no setting 'k' (known: …)" -> "k: no such setting (known: …)"
  constexpr std::string_view kUnknown = "has no setting '";
  if (rule.starts_with(kUnknown)) {
    auto end = rule.find('\'', kUnknown.size());
    if (end != std::string::npos) {
      return rule.substr(kUnknown.size(), end - kUnknown.size()) + ": no such setting" +
             rule.substr(end + 1);
    }
  }
  // "<key> must be …" -> "<key>: must be …"
  auto space = rule.find(' ');
  if (space != std::string::npos && rule.compare(space, 6, " must ") == 0) {
    return rule.substr(0, space) + ":" + rule.substr(space);
  }
  return rule;
}

}  // namespace mesh::repl
