#include "settings.hpp"

#include <boost/json.hpp>
#include <stdexcept>

namespace mesh::issues {
namespace json = boost::json;
namespace {

std::uint64_t integer(const json::value& v, const char* key, std::uint64_t min, std::uint64_t max) {
  const auto* i = v.if_int64();
  const auto* u = v.if_uint64();
  bool in_range = (i && *i >= 0 && static_cast<std::uint64_t>(*i) >= min &&
                   static_cast<std::uint64_t>(*i) <= max) ||
                  (u && *u >= min && *u <= max);
  if (!in_range) {
    throw std::invalid_argument(std::string(key) + ": must be an integer from " +
                                std::to_string(min) + " to " + std::to_string(max));
  }
  return i ? static_cast<std::uint64_t>(*i) : *u;
}

}  // namespace

Settings Settings::parse(const std::string& text) {
  Settings s;
  boost::system::error_code ec;
  json::value v = json::parse(text.empty() ? std::string("{}") : text, ec);
  if (ec || !v.is_object()) throw std::invalid_argument("[plugins.issues] is not a table");
  for (const auto& [key, value] : v.as_object()) {
    if (key == "close_from_commits") {
      if (!value.is_bool())
        throw std::invalid_argument("close_from_commits: must be true or false");
      s.close_from_commits = value.as_bool();
    } else if (key == "max_commits_per_push") {
      s.max_commits_per_push =
          static_cast<std::uint32_t>(integer(value, "max_commits_per_push", 1, 100'000));
    } else if (key == "reply_wait_ms") {
      s.reply_wait_ms = static_cast<std::uint32_t>(integer(value, "reply_wait_ms", 0, 60'000));
    } else if (key == "max_issues_per_member") {
      s.member_limits.issues = integer(value, "max_issues_per_member", 1, 10'000'000);
    } else if (key == "max_comments_per_member") {
      s.member_limits.comments = integer(value, "max_comments_per_member", 1, 100'000'000);
    } else if (key == "max_bytes_per_member") {
      // At least one event of the largest size; at most 64 GiB.
      s.member_limits.bytes = integer(value, "max_bytes_per_member", kMaxPayload, 1ull << 36);
    } else {
      // A typo must not leave a setting at its default without a word.
      throw std::invalid_argument(std::string(key) +
                                  ": unknown setting (known: close_from_commits, "
                                  "max_commits_per_push, reply_wait_ms, max_issues_per_member, "
                                  "max_comments_per_member, max_bytes_per_member)");
    }
  }
  return s;
}

}  // namespace mesh::issues
