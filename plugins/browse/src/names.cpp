#include "names.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "limits.hpp"
#include "mesh/names.hpp"

namespace mesh::browse {

bool valid_repo_name(std::string_view name) {
  return names::valid_repo_name(name);
}

bool plausible_ref(std::string_view ref) {
  if (ref.empty() || ref.size() > kMaxRefName) return false;
  for (unsigned char c : ref) {
    if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' ||
        c == '*' || c == '[' || c == '\\')
      return false;
  }
  return ref.find("..") == std::string_view::npos && ref.find("@{") == std::string_view::npos;
}

bool valid_hex_oid(std::string_view s) {
  if (s.size() < 4 || s.size() > 40) return false;
  for (char c : s) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

std::optional<std::vector<std::string>> split_repo_path(std::string_view path, std::string* why) {
  std::vector<std::string> out;
  if (path.size() > kMaxPathBytes) {
    *why = "the path is longer than " + std::to_string(kMaxPathBytes) + " bytes";
    return std::nullopt;
  }
  while (path.starts_with('/')) path.remove_prefix(1);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (path.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = path.find('/', start);
    std::string_view seg =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") {
      *why = "a path must not contain empty, \".\" or \"..\" segments";
      return std::nullopt;
    }
    if (seg.size() > kMaxSegmentBytes || seg.find('\0') != std::string_view::npos) {
      *why =
          "a path segment is at most " + std::to_string(kMaxSegmentBytes) + " bytes and has no NUL";
      return std::nullopt;
    }
    if (out.size() == kMaxPathSegments) {
      *why = "a path has at most " + std::to_string(kMaxPathSegments) + " segments";
      return std::nullopt;
    }
    out.emplace_back(seg);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

std::string join_path(const std::vector<std::string>& segments, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < segments.size(); ++i) {
    if (i) out += '/';
    out += segments[i];
  }
  return out;
}

std::string url_segment(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

std::string url_path(const std::vector<std::string>& segments, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < segments.size(); ++i) {
    if (i) out += '/';
    out += url_segment(segments[i]);
  }
  return out;
}

namespace {

// The length of the valid UTF-8 sequence at s[i], or 0 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
std::size_t utf8_len(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c >= 0x01 && c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xbf) return 0;
  }
  return n;
}

}  // namespace

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_len(s, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string valid_utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return valid_utf8(s);
  std::size_t cut = max;
  // Back off continuation bytes so a character is not split (at most 3).
  for (int k = 0; k < 3 && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80; ++k)
    --cut;
  return valid_utf8(s.substr(0, cut));
}

}  // namespace mesh::browse
