#include "runner_settings.hpp"

#include <boost/json.hpp>
#include <stdexcept>

namespace mesh::runner {
namespace {

namespace json = boost::json;

bool token(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return s[0] != '-';
}

bool label(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  return true;
}

[[noreturn]] void bad(const std::string& key, const std::string& why) {
  throw std::invalid_argument(key + ": " + why);
}

}  // namespace

RunnerSettings parse_runner_settings(std::string_view text, std::string default_name,
                                     bool docker_keys) {
  RunnerSettings s;
  s.name = std::move(default_name);
  if (text.empty()) return s;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) throw std::invalid_argument("settings are not a JSON object");
  for (const auto& [k, val] : v.as_object()) {
    std::string key(k);
    if (key == "name") {
      if (!val.is_string() || !token(val.as_string(), 32))
        bad(key, "expected a name matching [a-z0-9][a-z0-9-]{0,31}");
      s.name = std::string(val.as_string());
    } else if (key == "slots") {
      if (!val.is_int64() || val.as_int64() < 1 || val.as_int64() > 64)
        bad(key, "expected a whole number from 1 to 64");
      s.slots = static_cast<std::uint32_t>(val.as_int64());
    } else if (key == "labels") {
      if (!val.is_array() || val.as_array().size() > 32) bad(key, "expected at most 32 labels");
      s.labels.clear();
      for (const auto& l : val.as_array()) {
        if (!l.is_string() || !label(l.as_string()))
          bad(key, "each label matches [A-Za-z0-9._-]{1,64}");
        s.labels.emplace_back(l.as_string());
      }
    } else if (key == "docker" && docker_keys) {
      if (!val.is_string() || val.as_string().empty() || val.as_string().size() > 4096)
        bad(key, "expected the docker command (a name on PATH or an absolute path)");
      s.docker = std::string(val.as_string());
    } else if (key == "network" && docker_keys) {
      if (!val.is_string() || !token(val.as_string(), 64))
        bad(key, "expected a network name matching [a-z0-9][a-z0-9-]{0,63}");
      s.network = std::string(val.as_string());
    } else if (key == "pull" && docker_keys) {
      if (!val.is_string() || (val.as_string() != "missing" && val.as_string() != "never" &&
                               val.as_string() != "always"))
        bad(key, "expected missing, never or always");
      s.pull = std::string(val.as_string());
    } else {
      bad(key, "unknown setting");
    }
  }
  return s;
}

}  // namespace mesh::runner
