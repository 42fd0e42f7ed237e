// The names every part of mesh agrees on: repo names (a URL path segment, a directory name, a
// git argv item) and the ref names that replicate. Header-only and dependency-free, so the core,
// the CLI and every plugin (bundled or third-party) apply one rule: a repo the CLI accepts is one
// replication serves, CI builds and the board files issues under.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mesh::names {

inline constexpr std::size_t kMaxRepoName = 100;
inline constexpr std::size_t kMaxRefName = 255;

namespace detail {
constexpr bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
}  // namespace detail

// [A-Za-z0-9][A-Za-z0-9._-]{0,99}, no "..", not ending in ".git" or ".lock". So a name never
// starts with '-', '.' or '_', never contains '/', and is safe as a path component and an argv
// item. "" if `name` is valid, else why not (a sentence fragment: "it is empty").
inline std::string repo_name_error(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > kMaxRepoName) return "it is longer than 100 characters";
  for (char c : name) {
    if (!detail::alnum(c) && c != '.' && c != '_' && c != '-')
      return "only letters, digits, '.', '_' and '-' are allowed";
  }
  if (!detail::alnum(name.front())) return "it must start with a letter or a digit";
  if (name.find("..") != std::string_view::npos) return "it may not contain \"..\"";
  if (name.ends_with(".git") || name.ends_with(".lock"))
    return "it may not end in \".git\" or \".lock\" (give the name without .git)";
  return {};
}

inline bool valid_repo_name(std::string_view name) {
  return repo_name_error(name).empty();
}

// A full ref name that replicates: "refs/heads/..." or "refs/tags/...", at most 255 bytes, and
// valid per git-check-ref-format (no "..", "@{", "//", control bytes, space, ~^:?*[\, no
// component starting with '.' or '-' or ending in ".lock", no trailing '/' or '.'). A leading
// '-' is legal for git but reads as an option wherever a ref reaches an argv.
inline bool valid_ref_name(std::string_view ref) {
  if (ref.size() > kMaxRefName) return false;
  if (!ref.starts_with("refs/heads/") && !ref.starts_with("refs/tags/")) return false;
  if (ref.back() == '/' || ref.back() == '.') return false;
  if (ref.find("..") != std::string_view::npos || ref.find("@{") != std::string_view::npos ||
      ref.find("//") != std::string_view::npos) {
    return false;
  }
  for (unsigned char c : ref) {
    if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' ||
        c == '*' || c == '[' || c == '\\') {
      return false;
    }
  }
  // Per component: not empty, no leading '.' or '-', no ".lock" suffix. The prefix guarantees a
  // second component exists.
  for (std::size_t i = 0; i < ref.size();) {
    std::size_t j = ref.find('/', i);
    if (j == std::string_view::npos) j = ref.size();
    auto part = ref.substr(i, j - i);
    if (part.empty() || part.front() == '.' || part.front() == '-' || part.ends_with(".lock")) {
      return false;
    }
    i = j + 1;
  }
  return ref != "refs/heads/" && ref != "refs/tags/";
}

}  // namespace mesh::names
