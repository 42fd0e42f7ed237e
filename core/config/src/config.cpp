#include "mesh/config/config.hpp"

#include <toml++/toml.h>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <sstream>

#include "default_toml.hpp"
#include "gossip_table.hpp"
#include "mesh/base/files.hpp"
#include "toml_prescan.hpp"

namespace mesh::config {
namespace {

constexpr std::string_view kNamePlaceholder = "\"__MESH_NODE_NAME__\"";
constexpr std::size_t kMaxNodeNameBytes = 128;
constexpr std::size_t kMaxListEntries = 256;
constexpr std::size_t kMaxPathBytes = 4096;
constexpr std::size_t kMaxRecordedLines = 4096;  // per plugin table

// Quotes user text for an error message: escaped, and cut so a huge value can't flood a log.
std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 80;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  out += '"';
  return out;
}

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// Collects the context ("<source>") for messages of one parse.
class Parser {
 public:
  explicit Parser(std::string_view source) : source_(source) {}

  Error err(const toml::source_region& where, std::string_view what) const {
    std::string msg(source_);
    if (where.begin.line > 0) msg += ":" + std::to_string(where.begin.line);
    msg += ": ";
    msg += what;
    return make_error(Errc::invalid, std::move(msg));
  }

  Error type_err(const toml::node& n, const std::string& key, const char* expected) const {
    return err(n.source(), key + ": expected " + expected + ", got " + type_name(n.type()));
  }

  Result<std::string> string(const toml::node& n, const std::string& key) const {
    if (!n.is_string()) return type_err(n, key, "a string");
    return n.as_string()->get();
  }

  Result<bool> boolean(const toml::node& n, const std::string& key) const {
    if (!n.is_boolean()) return type_err(n, key, "a boolean");
    return n.as_boolean()->get();
  }

  // Integers with an inclusive range; the range is part of the message so users know the fix.
  Result<std::int64_t> integer(const toml::node& n, const std::string& key, std::int64_t min,
                               std::int64_t max) const {
    if (!n.is_integer()) return type_err(n, key, "an integer");
    std::int64_t v = n.as_integer()->get();
    if (v < min || v > max) {
      return err(n.source(), key + ": " + std::to_string(v) + " is out of range (" +
                                 std::to_string(min) + " .. " + std::to_string(max) + ")");
    }
    return v;
  }

  Result<std::vector<std::string>> string_list(const toml::node& n, const std::string& key) const {
    if (!n.is_array()) return type_err(n, key, "an array of strings");
    const auto& arr = *n.as_array();
    if (arr.size() > kMaxListEntries) {
      return err(n.source(), key + ": more than " + std::to_string(kMaxListEntries) + " entries");
    }
    std::vector<std::string> out;
    for (std::size_t i = 0; i < arr.size(); ++i) {
      auto s = string(arr[i], key + "[" + std::to_string(i) + "]");
      if (!s) return s.error();
      out.push_back(std::move(*s));
    }
    return out;
  }

  Error unknown_key(const toml::key& k, const toml::node& v, const std::string& table) const {
    // The key's own position is where the typo is; fall back to the value's.
    const auto& where = k.source().begin.line > 0 ? k.source() : v.source();
    std::string name = table.empty() ? std::string(k.str()) : table + "." + std::string(k.str());
    return err(where, "unknown key " + quote(name));
  }

  Result<const toml::table*> table(const toml::node& n, const std::string& key) const {
    if (!n.is_table()) return type_err(n, key, "a table");
    return n.as_table();
  }

  Status node(const toml::node& n, NodeConfig& out) const {
    auto t = table(n, "node");
    if (!t) return t.error();
    for (auto&& [k, v] : **t) {
      if (k == "name") {
        auto s = string(v, "node.name");
        if (!s) return s.error();
        if (auto st = check_node_name(*s); !st) {
          return err(v.source(), "node.name: " + st.error().message);
        }
        out.name = std::move(*s);
      } else {
        return unknown_key(k, v, "node");
      }
    }
    return {};
  }

  Status http(const toml::node& n, HttpConfig& out) const {
    auto t = table(n, "http");
    if (!t) return t.error();
    constexpr std::int64_t kHour = 3'600'000, kDay = 24 * kHour;
    for (auto&& [k, v] : **t) {
      std::string key = "http." + std::string(k.str());
      // A plain reference: clang before 16 cannot capture a structured binding (the fuzz build).
      const toml::node& value = v;
      auto set_int = [&](auto& field, std::int64_t min, std::int64_t max) -> Status {
        auto i = integer(value, key, min, max);
        if (!i) return i.error();
        field = static_cast<std::remove_reference_t<decltype(field)>>(*i);
        return {};
      };
      Status st;
      if (k == "listen") {
        auto s = string(v, key);
        if (!s) return s.error();
        auto hp = parse_host_port(*s);
        if (!hp) return err(v.source(), key + ": " + hp.error().message);
        out.listen = std::move(*s);
      } else if (k == "trust_loopback") {
        auto b = boolean(v, key);
        if (!b) return b.error();
        out.trust_loopback = *b;
      } else if (k == "max_header_bytes") {
        st = set_int(out.max_header_bytes, 1024, 1 << 20);
      } else if (k == "max_body_bytes") {
        st = set_int(out.max_body_bytes, 1024, std::int64_t{64} << 30);
      } else if (k == "header_timeout_ms") {
        st = set_int(out.header_timeout_ms, 100, kHour);
      } else if (k == "body_timeout_ms") {
        st = set_int(out.body_timeout_ms, 100, kDay);
      } else if (k == "idle_timeout_ms") {
        st = set_int(out.idle_timeout_ms, 100, kDay);
      } else if (k == "max_connections") {
        st = set_int(out.max_connections, 1, 100'000);
      } else if (k == "advertise") {
        auto list = string_list(v, key);
        if (!list) return list.error();
        if (list->size() > 16) return err(v.source(), key + ": at most 16 addresses");
        const auto& arr = *v.as_array();
        for (std::size_t i = 0; i < list->size(); ++i) {
          if (auto hp = parse_host_port((*list)[i]); !hp || hp->port == 0) {
            return err(arr[i].source(), key + ": expected \"HOST:PORT\", got " + quote((*list)[i]));
          }
        }
        out.advertise = std::move(*list);
      } else {
        return unknown_key(k, v, "http");
      }
      if (!st) return st;
    }
    return {};
  }

  Status discovery(const toml::node& n, DiscoveryConfig& out) const {
    auto t = table(n, "discovery");
    if (!t) return t.error();
    for (auto&& [k, v] : **t) {
      std::string key = "discovery." + std::string(k.str());
      if (k == "enabled") {
        auto b = boolean(v, key);
        if (!b) return b.error();
        out.enabled = *b;
      } else if (k == "port") {
        auto i = integer(v, key, 1, 65535);
        if (!i) return i.error();
        out.port = static_cast<std::uint16_t>(*i);
      } else if (k == "interval_ms") {
        auto i = integer(v, key, 1000, 3'600'000);
        if (!i) return i.error();
        out.interval_ms = static_cast<std::uint32_t>(*i);
      } else if (k == "targets") {
        auto list = string_list(v, key);
        if (!list) return list.error();
        for (const auto& a : *list) {
          if (a.empty() || a.size() > 64) return err(v.source(), key + ": invalid address");
        }
        out.targets = std::move(*list);
      } else if (k == "multicast_if") {
        auto s = string(v, key);
        if (!s) return s.error();
        if (s->size() > 64) return err(v.source(), key + ": too long");
        out.multicast_if = std::move(*s);
      } else {
        return unknown_key(k, v, "discovery");
      }
    }
    return {};
  }

  Status log(const toml::node& n, LogConfig& out) const {
    auto t = table(n, "log");
    if (!t) return t.error();
    for (auto&& [k, v] : **t) {
      std::string key = "log." + std::string(k.str());
      if (k == "level") {
        auto s = string(v, key);
        if (!s) return s.error();
        static const std::set<std::string, std::less<>> kLevels = {"trace", "debug", "info", "warn",
                                                                   "error"};
        if (!kLevels.contains(*s)) {
          return err(v.source(),
                     key + ": expected trace, debug, info, warn or error, got " + quote(*s));
        }
        out.level = std::move(*s);
      } else if (k == "max_file_bytes") {
        auto i = integer(v, key, 4096, std::int64_t{1} << 30);
        if (!i) return i.error();
        out.max_file_bytes = static_cast<std::size_t>(*i);
      } else if (k == "max_files") {
        auto i = integer(v, key, 1, 100);
        if (!i) return i.error();
        out.max_files = static_cast<std::uint32_t>(*i);
      } else {
        return unknown_key(k, v, "log");
      }
    }
    return {};
  }

  // A list whose every entry must match `ok`; `what` describes the grammar for the message.
  Result<std::vector<std::string>> checked_list(const toml::node& v, const std::string& key,
                                                std::size_t max, bool (*ok)(std::string_view),
                                                const char* what) const {
    auto list = string_list(v, key);
    if (!list) return list.error();
    if (list->size() > max)
      return err(v.source(), key + ": at most " + std::to_string(max) + " entries");
    const auto& arr = *v.as_array();
    std::set<std::string> seen;
    for (std::size_t i = 0; i < list->size(); ++i) {
      const auto& e = (*list)[i];
      if (!ok(e)) return err(arr[i].source(), key + ": " + quote(e) + " is not " + what);
      if (!seen.insert(e).second) return err(arr[i].source(), key + ": " + quote(e) + " twice");
    }
    return list;
  }

  Status runner(const toml::node& n, RunnerConfig& out) const {
    auto t = table(n, "runner");
    if (!t) return t.error();
    for (auto&& [k, v] : **t) {
      std::string key = "runner." + std::string(k.str());
      if (k == "enabled") {
        auto b = boolean(v, key);
        if (!b) return b.error();
        out.enabled = *b;
      } else if (k == "modes") {
        auto l = checked_list(v, key, 16, &valid_mode, "a mode ([a-z0-9][a-z0-9-]{0,31})");
        if (!l) return l.error();
        out.modes = std::move(*l);
      } else if (k == "labels") {
        auto l = checked_list(v, key, 32, &valid_label, "a label ([A-Za-z0-9._-]{1,64})");
        if (!l) return l.error();
        out.labels = std::move(*l);
      } else if (k == "env_passthrough") {
        auto l = checked_list(v, key, 64, &valid_env_name,
                              "a variable name ([A-Za-z_][A-Za-z0-9_]{0,127})");
        if (!l) return l.error();
        out.env_passthrough = std::move(*l);
      } else if (k == "max_concurrent_jobs") {
        auto i = integer(v, key, 1, 64);
        if (!i) return i.error();
        out.max_concurrent_jobs = static_cast<std::uint32_t>(*i);
      } else if (k == "job_log_max_bytes") {
        auto i = integer(v, key, 64 * 1024, std::int64_t{64} << 20);
        if (!i) return i.error();
        out.job_log_max_bytes = static_cast<std::uint64_t>(*i);
      } else {
        return unknown_key(k, v, "runner");
      }
    }
    return {};
  }

  static bool valid_mode(std::string_view s) {
    if (s.empty() || s.size() > 32) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-'))) return false;
    }
    return true;
  }
  static bool valid_label(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
        return false;
    return true;
  }
  static bool valid_env_name(std::string_view s) {
    if (s.empty() || s.size() > 128) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (!(std::isalpha(c) || c == '_' || (i > 0 && std::isdigit(c)))) return false;
    }
    return true;
  }

  Result<boost::json::value> to_json(const toml::node& n, const std::string& key) const {
    switch (n.type()) {
      case toml::node_type::string:
        return boost::json::value(n.as_string()->get());
      case toml::node_type::integer:
        return boost::json::value(n.as_integer()->get());
      case toml::node_type::boolean:
        return boost::json::value(n.as_boolean()->get());
      case toml::node_type::floating_point: {
        double d = n.as_floating_point()->get();
        if (!std::isfinite(d)) return err(n.source(), key + ": inf and nan have no JSON form");
        return boost::json::value(d);
      }
      case toml::node_type::date:
      case toml::node_type::time:
      case toml::node_type::date_time: {
        // RFC 3339 text, which is what a JSON consumer expects for a timestamp.
        std::ostringstream os;
        n.visit([&](const auto& v) { os << v; });
        return boost::json::value(os.str());
      }
      case toml::node_type::array: {
        boost::json::array arr;
        const auto& a = *n.as_array();
        arr.reserve(a.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
          auto v = to_json(a[i], key + "[" + std::to_string(i) + "]");
          if (!v) return v.error();
          arr.push_back(std::move(*v));
        }
        return boost::json::value(std::move(arr));
      }
      case toml::node_type::table: {
        boost::json::object obj;
        for (auto&& [k, v] : *n.as_table()) {
          auto j = to_json(v, key + "." + std::string(k.str()));
          if (!j) return j.error();
          obj[k.str()] = std::move(*j);
        }
        return boost::json::value(std::move(obj));
      }
      default:
        return err(n.source(), key + ": unsupported value");
    }
  }

  Status plugins(const toml::node& n, PluginsConfig& out) const {
    auto t = table(n, "plugins");
    if (!t) return t.error();
    for (auto&& [k, v] : **t) {
      std::string key = "plugins." + std::string(k.str());
      if (k == "enabled") {
        auto list = string_list(v, key);
        if (!list) return list.error();
        std::set<std::string> seen;
        const auto& arr = *v.as_array();
        for (std::size_t i = 0; i < list->size(); ++i) {
          const auto& id = (*list)[i];
          if (!valid_plugin_id(id)) {
            return err(arr[i].source(),
                       key + ": invalid plugin id " + quote(id) + " (expected [a-z0-9][a-z0-9-]*)");
          }
          if (!seen.insert(id).second) {
            return err(arr[i].source(), key + ": plugin " + quote(id) + " is listed twice");
          }
        }
        out.enabled = std::move(*list);
      } else if (k == "paths") {
        auto list = string_list(v, key);
        if (!list) return list.error();
        const auto& arr = *v.as_array();
        for (std::size_t i = 0; i < list->size(); ++i) {
          const auto& p = (*list)[i];
          if (p.empty() || p.size() > kMaxPathBytes || p.find('\0') != std::string::npos) {
            return err(arr[i].source(), key + ": invalid directory " + quote(p));
          }
        }
        out.paths = std::move(*list);
      } else if (k == "executor_threads") {
        auto i = integer(v, key, 1, 16);
        if (!i) return i.error();
        out.executor_threads = static_cast<std::uint32_t>(*i);
      } else if (k == "stop_timeout_ms") {
        auto i = integer(v, key, 100, 600'000);
        if (!i) return i.error();
        out.stop_timeout_ms = static_cast<std::uint32_t>(*i);
      } else if (v.is_table()) {
        // [plugins.<id>]: free-form, the plugin validates its own settings.
        if (!valid_plugin_id(k.str())) {
          const auto& where = k.source().begin.line > 0 ? k.source() : v.source();
          return err(where, "invalid plugin id " + quote(k.str()) + " in [" + key +
                                "] (expected [a-z0-9][a-z0-9-]*)");
        }
        auto j = to_json(v, key);
        if (!j) return j.error();
        out.settings[std::string(k.str())] = boost::json::serialize(*j);
        auto& lines = out.setting_lines[std::string(k.str())];
        if (auto line = v.source().begin.line; line > 0) lines[""] = line;
        record_lines(*v.as_table(), "", lines);
      } else {
        Error e = unknown_key(k, v, "plugins");
        e.message += " (plugin settings go in a [plugins.<id>] table)";
        return e;
      }
    }
    return {};
  }

  // The line of every key in a plugin's table (nested tables as dotted paths), the key's own
  // position first: that is where the user wrote it.
  static void record_lines(const toml::table& t, const std::string& prefix,
                           std::map<std::string, std::uint32_t>& out) {
    for (auto&& [k, v] : t) {
      if (out.size() >= kMaxRecordedLines) return;
      std::string path =
          prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      auto line = k.source().begin.line > 0 ? k.source().begin.line : v.source().begin.line;
      if (line > 0) out[path] = line;
      if (v.is_table()) record_lines(*v.as_table(), path, out);
    }
  }

  Result<Config> document(const toml::table& root) const {
    Config cfg;
    cfg.plugins.source = std::string(source_);
    for (auto&& [k, v] : root) {
      Status st;
      if (k == "node") {
        st = node(v, cfg.node);
      } else if (k == "http") {
        st = http(v, cfg.http);
      } else if (k == "log") {
        st = log(v, cfg.log);
      } else if (k == "discovery") {
        st = discovery(v, cfg.discovery);
      } else if (k == "plugins") {
        st = plugins(v, cfg.plugins);
      } else if (k == "runner") {
        st = runner(v, cfg.runner);
      } else if (k == "gossip") {
        st = parse_gossip_table(v, source_, cfg.gossip);
      } else {
        return unknown_key(k, v, "");
      }
      if (!st) return st.error();
    }
    return cfg;
  }

 private:
  std::string_view source_;
};

// Makes any input a name check_node_name accepts, so default_toml() always gives a loadable
// file: invalid UTF-8 -> U+FFFD, control characters -> space, cut at 128 bytes on a character
// boundary, empty -> "node".
std::string sanitize_name(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool ok = len > 0 && c <= 0xf4 && i + len <= s.size();
    std::uint32_t cp = ok ? (len == 1 ? c : (c & (0x7f >> len))) : 0;
    for (std::size_t j = 1; ok && j < len; ++j) {
      auto cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // No overlongs, no surrogates, nothing above U+10FFFF.
    ok = ok && !(len == 3 && cp < 0x800) && !(len == 4 && (cp < 0x10000 || cp > 0x10ffff)) &&
         !(cp >= 0xd800 && cp <= 0xdfff);
    std::string_view piece = ok ? s.substr(i, len) : std::string_view("\xEF\xBF\xBD");
    if (ok && len == 1 && (c < 0x20 || c == 0x7f)) piece = " ";
    if (out.size() + piece.size() > kMaxNodeNameBytes) break;
    out.append(piece);
    i += ok ? len : 1;
  }
  if (out.empty()) out = "node";
  return out;
}

// TOML basic string; the input has no control characters (sanitize_name).
std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

Status check_node_name(std::string_view name) {
  if (name.empty()) return make_error(Errc::invalid, "the node name is empty");
  if (name.size() > kMaxNodeNameBytes) {
    return make_error(Errc::invalid, "the node name is longer than " +
                                         std::to_string(kMaxNodeNameBytes) + " bytes");
  }
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      return make_error(Errc::invalid, "the node name contains a control character");
    }
  }
  return {};
}

Result<Config> parse(std::string_view text, std::string_view source) {
  if (text.size() > kMaxConfigBytes) {
    return make_error(Errc::limit, std::string(source) + ": larger than " +
                                       std::to_string(kMaxConfigBytes) + " bytes");
  }
  if (auto bad = detail::prescan_toml(text)) {
    return make_error(Errc::invalid, std::string(source) + ":" + std::to_string(bad->line) + ":" +
                                         std::to_string(bad->column) + ": " + bad->what);
  }
  Parser p(source);
  try {
    toml::table root = toml::parse(text, source);
    return p.document(root);
  } catch (const toml::parse_error& e) {
    return p.err(e.source(), std::string(e.description()));
  } catch (const std::exception& e) {
    // Allocation failures and the like; nothing may escape the module.
    return make_error(Errc::internal, std::string(source) + ": " + e.what());
  }
}

Result<Config> load(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    return make_error(Errc::not_found, file.string() + ": no such file");
  }
  auto text = read_file(file, kMaxConfigBytes);
  if (!text) return text.error();
  return parse(*text, file.string());
}

std::string default_toml(std::string_view node_name) {
  std::string out = detail::kDefaultToml;
  auto pos = out.find(kNamePlaceholder);
  if (pos != std::string::npos)
    out.replace(pos, kNamePlaceholder.size(), toml_string(sanitize_name(node_name)));
  return out;
}

Result<HostPort> parse_host_port(std::string_view text) {
  auto bad = [&](std::string why) -> Error {
    return make_error(Errc::invalid, why.empty() ? "expected \"HOST:PORT\", got " + quote(text)
                                                 : quote(text) + ": " + why);
  };
  if (text.size() > 300) return bad("too long");
  HostPort hp;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("");
    }
    hp.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
    if (hp.host.find(':') == std::string::npos) return bad("brackets are for IPv6 addresses");
    for (char c : hp.host) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.' && c != '%') {
        return bad("invalid IPv6 address");
      }
    }
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("");
    hp.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (hp.host.find(':') != std::string::npos) {
      return bad("IPv6 addresses need brackets, e.g. \"[::1]:7979\"");
    }
    for (char c : hp.host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
        return bad("invalid host");
      }
    }
  }
  if (hp.host.empty()) return bad("missing host");
  if (port.empty() || port.size() > 5) return bad("invalid port");
  std::uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad("invalid port");
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value > 65535) return bad("port out of range (0 .. 65535)");
  hp.port = static_cast<std::uint16_t>(value);
  return hp;
}

std::string PluginsConfig::locate(const std::string& id, const std::string& message) const {
  std::uint32_t line = 0;
  if (auto t = setting_lines.find(id); t != setting_lines.end()) {
    // The setting's name is what the message starts with, up to ':' (or a space).
    auto end = message.find_first_of(": ");
    std::string key = message.substr(0, end);
    if (auto k = t->second.find(key); !key.empty() && k != t->second.end())
      line = k->second;
    else if (auto table = t->second.find(""); table != t->second.end())
      line = table->second;
  }
  std::string where = source.empty() ? std::string("mesh.toml") : source;
  if (line > 0) where += ":" + std::to_string(line);
  return where + ": [plugins." + id + "] " + message;
}

bool valid_plugin_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && c == '-');
  };
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (!ok(id[i], i == 0)) return false;
  }
  return true;
}

}  // namespace mesh::config
