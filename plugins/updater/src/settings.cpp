#include "settings.hpp"

#include <boost/json.hpp>
#include <stdexcept>

#include "urls.hpp"

namespace mesh::updater {
namespace json = boost::json;
namespace {

constexpr std::string_view kTable = "[plugins.updater] ";
constexpr std::string_view kKnown =
    "source, release_key, max_archive_mb, connect_timeout_ms, stall_timeout_ms, attempts, "
    "health_timeout_s, serve, keep_archives";

[[noreturn]] void bad(std::string_view key, const std::string& why) {
  throw std::invalid_argument(std::string(kTable) + std::string(key) + " " + why);
}

std::uint64_t integer(const json::value& v, std::string_view key, std::uint64_t min,
                      std::uint64_t max) {
  if (const auto* i = v.if_int64(); i && *i >= 0) {
    auto u = static_cast<std::uint64_t>(*i);
    if (u >= min && u <= max) return u;
  }
  bad(key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
}

std::string text(const json::value& v, std::string_view key, std::size_t max) {
  if (!v.is_string()) bad(key, "must be a string");
  const auto& s = v.get_string();
  if (s.size() > max) bad(key, "is longer than " + std::to_string(max) + " characters");
  return std::string(s);
}

}  // namespace

std::string no_key_message() {
  return "no release key: set [plugins.updater] release_key in mesh.toml to the release "
         "public key (the RW... line of the project's minisign key, see docs/updates.md); "
         "without it no update is installed from any source or peer";
}

Settings parse_settings(std::string_view text_json) {
  boost::system::error_code ec;
  json::value doc = json::parse(text_json, ec);
  if (ec) throw std::invalid_argument(std::string(kTable) + "is not valid: " + ec.message());
  if (!doc.is_object()) throw std::invalid_argument(std::string(kTable) + "must be a table");
  Settings s;
  for (const auto& [k, v] : doc.get_object()) {
    const std::string_view key = k;
    if (key == "source") {
      auto url = check_url(text(v, key, kMaxUrlLength));
      if (!url) bad(key, "is not usable: " + url.error().message);
      s.source = *url;
    } else if (key == "release_key") {
      std::string t = text(v, key, kMaxPublicKeyText);
      if (t.find_first_not_of(" \t\r\n") == std::string::npos) continue;  // "": no key
      auto pk = parse_public_key(t);
      if (!pk) bad(key, "is not a minisign public key: " + pk.error().message);
      s.release_key = *pk;
    } else if (key == "max_archive_mb") {
      s.max_archive_bytes = integer(v, key, 1, 4096) << 20;
    } else if (key == "connect_timeout_ms") {
      s.connect_timeout = std::chrono::milliseconds(integer(v, key, 100, 120'000));
    } else if (key == "stall_timeout_ms") {
      s.stall_timeout = std::chrono::milliseconds(integer(v, key, 1000, 600'000));
    } else if (key == "attempts") {
      s.attempts = static_cast<int>(integer(v, key, 1, 10));
    } else if (key == "health_timeout_s") {
      s.health_timeout = std::chrono::seconds(integer(v, key, 5, 3600));
    } else if (key == "serve") {
      if (!v.is_bool()) bad(key, "must be true or false");
      s.serve = v.get_bool();
    } else if (key == "keep_archives") {
      s.keep_archives = static_cast<std::size_t>(integer(v, key, 0, 16));
    } else {
      throw std::invalid_argument(std::string(kTable) + "has no setting '" + std::string(key) +
                                  "' (known: " + std::string(kKnown) + ")");
    }
  }
  return s;
}

}  // namespace mesh::updater
