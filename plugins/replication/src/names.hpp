// Validation of the names that arrive from outside: repo names in URLs and events, ref names
// in events. Everything that reaches a path or a git argv passes through here first.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mesh::repl {

constexpr std::size_t kMaxRepoName = 100;
constexpr std::size_t kMaxRefName = 255;

// The project-wide rules of mesh/names.hpp (the SDK's), which every plugin and the CLI share.
bool valid_repo_name(std::string_view name);
bool valid_ref_name(std::string_view ref);

// A full SHA-1 object id in lower-case hex (40 characters), as events and state files carry.
bool valid_oid(std::string_view oid);

// The smart HTTP services.
enum class GitPath { info_refs, upload_pack, receive_pack };

struct ParsedGitPath {
  std::string repo;  // validated
  GitPath what;
};

// "/<repo>.git/info/refs", "/<repo>.git/git-upload-pack", "/<repo>.git/git-receive-pack" (the
// ".git" suffix is optional). nullopt for anything else, including invalid repo names.
std::optional<ParsedGitPath> parse_git_path(std::string_view path);

}  // namespace mesh::repl
