#include "names.hpp"

#include "mesh/names.hpp"

#include "text.hpp"

namespace mesh::ci {
namespace {

bool lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool digit(char c) {
  return c >= '0' && c <= '9';
}
bool alnum(char c) {
  return lower(c) || upper(c) || digit(c);
}
bool hex(char c) {
  return digit(c) || (c >= 'a' && c <= 'f');
}

template <typename First, typename Rest>
bool grammar(std::string_view s, std::size_t max, First first, Rest rest) {
  if (s.empty() || s.size() > max || !first(s.front())) return false;
  for (char c : s.substr(1)) {
    if (!rest(c)) return false;
  }
  return true;
}

bool hex_of(std::string_view s, std::size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!hex(c)) return false;
  }
  return true;
}

}  // namespace

bool valid_job_name(std::string_view s) {
  return grammar(s, 64, alnum, [](char c) { return alnum(c) || c == '_' || c == '-'; });
}

bool valid_mode(std::string_view s) {
  return grammar(s, 32, lower, [](char c) { return lower(c) || digit(c) || c == '-'; });
}

bool valid_label(std::string_view s) {
  return grammar(s, 64, alnum, [](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool valid_secret_name(std::string_view s) {
  return grammar(
      s, 64, [](char c) { return upper(c) || c == '_'; },
      [](char c) { return upper(c) || digit(c) || c == '_'; });
}

bool valid_env_name(std::string_view s) {
  return grammar(
      s, 64, [](char c) { return upper(c) || lower(c) || c == '_'; },
      [](char c) { return alnum(c) || c == '_'; });
}

bool valid_image(std::string_view s) {
  return grammar(s, 255, alnum, [](char c) {
    return alnum(c) || c == '.' || c == '_' || c == '/' || c == ':' || c == '@' || c == '-';
  });
}

bool valid_runner_name(std::string_view s) {
  return grammar(
      s, 32, [](char c) { return lower(c) || digit(c); },
      [](char c) { return lower(c) || digit(c) || c == '-'; });
}

bool valid_pipeline_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return valid_utf8(s);
}

bool valid_repo_name(std::string_view s) {
  return names::valid_repo_name(s);
}

bool valid_ref(std::string_view ref) {
  return names::valid_ref_name(ref);
}

bool valid_sha(std::string_view s) {
  return hex_of(s, 40);
}

bool valid_run_id(std::string_view s) {
  return hex_of(s, 64);
}

bool valid_node_id(std::string_view s) {
  if (!s.starts_with("mesh:") || s.size() != 5 + 52) return false;
  for (char c : s.substr(5)) {
    if (!lower(c) && !(c >= '2' && c <= '7')) return false;
  }
  return true;
}

std::string_view branch_of(std::string_view ref) {
  constexpr std::string_view kHeads = "refs/heads/";
  if (!ref.starts_with(kHeads) || ref.size() == kHeads.size()) return {};
  return ref.substr(kHeads.size());
}

}  // namespace mesh::ci
