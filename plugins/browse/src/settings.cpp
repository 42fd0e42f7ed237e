#include "settings.hpp"

#include <boost/json.hpp>
#include <stdexcept>

namespace mesh::browse {
namespace json = boost::json;

namespace {

std::uint64_t integer(const json::object& o, const char* key, std::uint64_t lo, std::uint64_t hi,
                      std::uint64_t fallback) {
  const json::value* v = o.if_contains(key);
  if (!v) return fallback;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    n = static_cast<std::int64_t>(v->as_uint64());
  } else {
    n = -1;
  }
  if (n < 0 || static_cast<std::uint64_t>(n) < lo || static_cast<std::uint64_t>(n) > hi)
    throw std::invalid_argument(std::string(key) + ": must be an integer from " +
                                std::to_string(lo) + " to " + std::to_string(hi));
  return static_cast<std::uint64_t>(n);
}

}  // namespace

Settings Settings::parse(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text.empty() ? "{}" : text, ec);
  if (ec || !v.is_object()) throw std::invalid_argument("[plugins.browse]: not a table");
  const json::object& o = v.as_object();
  static const char* const known[] = {"max_file_bytes", "max_raw_bytes", "max_tree_entries",
                                      "max_diff_files", "threads",       "queue"};
  for (const auto& kv : o) {
    bool ok = false;
    for (const char* k : known) ok = ok || kv.key() == k;
    if (!ok)
      throw std::invalid_argument(std::string(kv.key()) +
                                  ": unknown setting (known: max_file_bytes, max_raw_bytes, "
                                  "max_tree_entries, max_diff_files, threads, queue)");
  }
  Settings s;
  // A file view is escaped HTML inside a 16 MiB page: 2 MiB of text can grow six times.
  s.max_file_bytes = integer(o, "max_file_bytes", 1024, 2u << 20, s.max_file_bytes);
  s.max_raw_bytes = integer(o, "max_raw_bytes", 1024, 256u << 20, s.max_raw_bytes);
  s.max_tree_entries = integer(o, "max_tree_entries", 10, 10000, s.max_tree_entries);
  s.max_diff_files = integer(o, "max_diff_files", 10, 5000, s.max_diff_files);
  s.threads = integer(o, "threads", 1, 16, s.threads);
  s.queue = integer(o, "queue", 1, 1024, s.queue);
  return s;
}

}  // namespace mesh::browse
