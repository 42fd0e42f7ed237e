#include "names.hpp"

#include "mesh/names.hpp"

namespace mesh::repl {
bool valid_repo_name(std::string_view name) {
  return names::valid_repo_name(name);
}

bool valid_ref_name(std::string_view ref) {
  return names::valid_ref_name(ref);
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
