#include "abi_util.hpp"

#include <algorithm>
#include <cstring>

#include "manifest.hpp"

namespace mesh::plugin {

std::string abi_text(std::uint32_t major, std::uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

const char* code_name(int32_t rc) {
  switch (rc) {
    case MESH_E_INVALID:
      return "MESH_E_INVALID";
    case MESH_E_NOT_FOUND:
      return "MESH_E_NOT_FOUND";
    case MESH_E_EXISTS:
      return "MESH_E_EXISTS";
    case MESH_E_LIMIT:
      return "MESH_E_LIMIT";
    case MESH_E_STATE:
      return "MESH_E_STATE";
    case MESH_E_UNSUPPORTED:
      return "MESH_E_UNSUPPORTED";
    case MESH_E_INTERNAL:
      return "MESH_E_INTERNAL";
    default:
      return "an unknown error code";
  }
}

int32_t code_of(Errc e) {
  switch (e) {
    case Errc::invalid:
      return MESH_E_INVALID;
    case Errc::not_found:
      return MESH_E_NOT_FOUND;
    case Errc::exists:
      return MESH_E_EXISTS;
    case Errc::limit:
      return MESH_E_LIMIT;
    case Errc::state:
      return MESH_E_STATE;
    case Errc::unsupported:
      return MESH_E_UNSUPPORTED;
    default:
      return MESH_E_INTERNAL;
  }
}

void set_err(char* err, std::size_t cap, std::string_view msg) {
  if (!err || cap == 0) return;
  std::size_t n = std::min(msg.size(), cap - 1);
  std::memcpy(err, msg.data(), n);
  err[n] = '\0';
}

std::string plugin_message(const char* err, std::size_t cap) {
  return sanitize(std::string_view(err, strnlen(err, cap)), kMaxErrorBytes);
}

int32_t copy_out(const std::string& value, char* buf, size_t cap, size_t* needed) {
  if (needed) *needed = value.size();
  if (!buf && cap) return MESH_E_INVALID;
  if (cap < value.size()) return MESH_E_LIMIT;
  if (!value.empty()) std::memcpy(buf, value.data(), value.size());
  if (cap > value.size()) buf[value.size()] = '\0';  // a courtesy for C callers
  return MESH_OK;
}

bool valid_method(std::string_view m) {
  if (m == "*") return true;
  if (m.empty() || m.size() > 16) return false;
  for (char c : m)
    if (c < 'A' || c > 'Z') return false;
  return true;
}

bool valid_route_path(std::string_view p) {
  if (p.empty() || p.size() > 256 || p[0] != '/') return false;
  if (p.size() > 1 && p.back() == '/') return false;
  for (char c : p)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '?' || c == '#') return false;
  return true;
}

bool valid_verb(std::string_view v) {
  if (v.empty() || v.size() > 32) return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
    if (!ok) return false;
  }
  return true;
}

bool valid_topic(std::string_view t) {
  if (t.empty() || t.size() > kMaxTopic || t[0] < 'a' || t[0] > 'z') return false;
  for (char c : t)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

bool reserved_topic(std::string_view t) {
  for (std::string_view family : {std::string_view("roster"), std::string_view("heartbeat")})
    if (t == family ||
        (t.size() > family.size() && t.starts_with(family) && t[family.size()] == '.'))
      return true;
  return false;
}

bool valid_subscription_name(std::string_view n) {
  if (n.empty() || n.size() > kMaxSubscriptionName) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (i > 0 && (c == '.' || c == '_' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

bool valid_pattern(std::string_view p) {
  return p == "*" || valid_topic(p);
}

bool valid_header_name(std::string_view n) {
  if (n.empty() || n.size() > 256) return false;
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!ok || c == '\0') return false;
  }
  return true;
}

bool valid_header_value(std::string_view v) {
  if (v.size() > 8192) return false;
  for (char c : v)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80                   ? 1
                      : (c >= 0xc2 && c <= 0xdf) ? 2
                      : (c & 0xf0) == 0xe0       ? 3
                      : (c >= 0xf0 && c <= 0xf4) ? 4
                                                 : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? c : (c & (0x7f >> len));
    for (std::size_t j = 1; j < len; ++j) {
      auto cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

}  // namespace mesh::plugin
