#include "names.hpp"

namespace mesh::repl {
namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

bool valid_repo_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxRepoName || !alnum(name.front())) return false;
  for (char c : name) {
    if (!name_char(c)) return false;
  }
  if (name.find("..") != std::string_view::npos) return false;
  return !name.ends_with(".git") && !name.ends_with(".lock");
}

bool valid_ref_name(std::string_view ref) {
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
  std::size_t i = 0;
  while (i < ref.size()) {
    std::size_t j = ref.find('/', i);
    if (j == std::string_view::npos) j = ref.size();
    auto part = ref.substr(i, j - i);
    // A leading '-' is legal for git but reads as an option wherever a ref reaches an argv.
    if (part.empty() || part.front() == '.' || part.front() == '-' || part.ends_with(".lock")) {
      return false;
    }
    i = j + 1;
  }
  return ref != "refs/heads/" && ref != "refs/tags/";
}

std::optional<ParsedGitPath> parse_git_path(std::string_view path) {
  if (!path.starts_with('/')) return std::nullopt;
  path.remove_prefix(1);
  static constexpr std::pair<std::string_view, GitPath> kServices[] = {
      {"/info/refs", GitPath::info_refs},
      {"/git-upload-pack", GitPath::upload_pack},
      {"/git-receive-pack", GitPath::receive_pack},
  };
  for (const auto& [suffix, what] : kServices) {
    if (!path.ends_with(suffix)) continue;
    std::string_view repo = path.substr(0, path.size() - suffix.size());
    if (repo.ends_with(".git")) repo.remove_suffix(4);
    if (!valid_repo_name(repo)) return std::nullopt;
    return ParsedGitPath{std::string(repo), what};
  }
  return std::nullopt;
}

bool valid_oid(std::string_view oid) {
  if (oid.size() != 40) return false;
  for (char c : oid) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace mesh::repl
