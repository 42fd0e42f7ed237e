#include "semver.hpp"

#include <charconv>

namespace mesh::updater {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ident_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}
bool all_digits(std::string_view s) {
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return !s.empty();
}

// A numeric core component: digits, no leading zero (except "0"), fits in 64 bits.
std::optional<std::uint64_t> parse_number(std::string_view s) {
  if (!all_digits(s) || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Splits "a.b.c" on '.', refusing empty identifiers and characters outside [0-9A-Za-z-].
std::optional<std::vector<std::string>> split_identifiers(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    auto dot = s.find('.');
    std::string_view id = s.substr(0, dot);
    if (id.empty()) return std::nullopt;
    for (char c : id) {
      if (!is_ident_char(c)) return std::nullopt;
    }
    out.emplace_back(id);
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return out;
}

int compare_identifier(const std::string& a, const std::string& b) {
  bool an = all_digits(a), bn = all_digits(b);
  if (an && bn) {
    // No leading zeros, so a longer number is a larger one: no overflow on huge identifiers.
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
  }
  if (an != bn) return an ? -1 : 1;  // numeric identifiers sort before alphanumeric ones
  int c = a.compare(b);              // ASCII order
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

std::string SemVer::str() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (std::size_t i = 0; i < pre.size(); ++i) s += (i == 0 ? "-" : ".") + pre[i];
  if (!build.empty()) s += "+" + build;
  return s;
}

Result<SemVer> parse_semver(std::string_view text) {
  auto bad = [&](const char* why) {
    std::string shown(text.substr(0, kMaxVersionLength));
    return make_error(Errc::invalid, "'" + shown + "' is not a semantic version (" + why + ")");
  };
  if (text.empty()) return bad("empty");
  if (text.size() > kMaxVersionLength) return bad("too long");
  std::string_view rest = text;
  SemVer v;
  if (auto plus = rest.find('+'); plus != std::string_view::npos) {
    auto ids = split_identifiers(rest.substr(plus + 1));
    if (!ids) return bad("bad build metadata");
    v.build = std::string(rest.substr(plus + 1));
    rest = rest.substr(0, plus);
  }
  if (auto dash = rest.find('-'); dash != std::string_view::npos) {
    auto ids = split_identifiers(rest.substr(dash + 1));
    if (!ids) return bad("bad pre-release");
    for (const auto& id : *ids) {
      if (all_digits(id) && id.size() > 1 && id[0] == '0') return bad("leading zero");
    }
    v.pre = std::move(*ids);
    rest = rest.substr(0, dash);
  }
  std::uint64_t* parts[] = {&v.major, &v.minor, &v.patch};
  for (int i = 0; i < 3; ++i) {
    auto dot = rest.find('.');
    if ((i < 2) == (dot == std::string_view::npos)) return bad("expected MAJOR.MINOR.PATCH");
    auto n = parse_number(rest.substr(0, dot));
    if (!n) return bad("bad number");
    *parts[i] = *n;
    rest = i < 2 ? rest.substr(dot + 1) : std::string_view();
  }
  return v;
}

Result<SemVer> parse_tag(std::string_view tag) {
  if (!tag.empty() && tag[0] == 'v') tag.remove_prefix(1);
  return parse_semver(tag);
}

int compare(const SemVer& a, const SemVer& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  // A pre-release sorts before its release.
  if (a.pre.empty() != b.pre.empty()) return a.pre.empty() ? 1 : -1;
  for (std::size_t i = 0; i < a.pre.size() && i < b.pre.size(); ++i) {
    if (int c = compare_identifier(a.pre[i], b.pre[i]); c != 0) return c;
  }
  if (a.pre.size() != b.pre.size()) return a.pre.size() < b.pre.size() ? -1 : 1;
  return 0;
}

}  // namespace mesh::updater
