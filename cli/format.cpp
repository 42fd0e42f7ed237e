#include "format.hpp"

#include <chrono>
#include <ctime>

namespace mesh::cli {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ago(std::int64_t unix_ms, std::int64_t now) {
  if (unix_ms <= 0) return "never";
  auto s = (now - unix_ms) / 1000;
  if (s < 0) return "just now";
  if (s < 120) return std::to_string(s) + "s ago";
  if (s < 7200) return std::to_string(s / 60) + "m ago";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h ago";
  return std::to_string(s / 86400) + "d ago";
}

std::string in(std::int64_t unix_ms, std::int64_t now) {
  auto s = (unix_ms - now) / 1000;
  if (unix_ms <= now) return "expired";
  if (s < 60) return "in " + std::to_string(s) + "s";
  if (s < 3600) {
    return "in " + std::to_string(s / 60) + "m" +
           (s % 60 ? " " + std::to_string(s % 60) + "s" : "");
  }
  if (s < 2 * 86400) {
    auto m = (s % 3600) / 60;
    return "in " + std::to_string(s / 3600) + "h" + (m ? " " + std::to_string(m) + "m" : "");
  }
  return "in " + std::to_string(s / 86400) + "d";
}

std::string local_time(std::int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[64];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0) return std::to_string(t);
  return buf;
}

std::string shown_id(const std::string& id, bool wide) {
  if (wide || id.rfind("mesh:", 0) != 0) return id;
  return id.substr(5, 12);
}

std::string joined(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

}  // namespace mesh::cli
