// Validation of the names that arrive from outside: repo names in URLs and events, ref names
// in events. Everything that reaches a path or a git argv passes through here first.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mesh::repl {

constexpr std::size_t kMaxRepoName = 100;
constexpr std::size_t kMaxRefName = 255;

// [A-Za-z0-9][A-Za-z0-9._-]{0,99}, not ending in ".git" or ".lock", no "..". So a name never
// starts with '-' or '.', never contains '/', and is safe as a path component and an argv item.
bool valid_repo_name(std::string_view name);

// A full ref name this plugin replicates: "refs/heads/..." or "refs/tags/...", at most 255
// bytes, and valid per git-check-ref-format (no "..", "@{", control bytes, space, ~^:?*[\,
// no component starting with '.' or '-' or ending in ".lock", no trailing '/' or '.').
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
