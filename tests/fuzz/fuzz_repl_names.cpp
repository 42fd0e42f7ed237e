// libFuzzer target: the replication plugin's name validators, which stand between the network
// (URLs, refs events) and paths and git argv. Beyond not crashing, whatever they accept must
// hold the properties the rest of the plugin relies on; a violation traps.
#include <cstdint>
#include <string>
#include <string_view>

#include "names.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool has_bad_byte(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' ||
        c == '*' || c == '[' || c == '\\')
      return true;
  }
  return false;
}

void check_repo(std::string_view s) {
  if (!mesh::repl::valid_repo_name(s)) return;
  // A single safe path component and argv item.
  check(!s.empty() && s.size() <= mesh::repl::kMaxRepoName);
  check(s.find('/') == std::string_view::npos && s.find("..") == std::string_view::npos);
  check(s.front() != '-' && s.front() != '.');
  check(!has_bad_byte(s));
  check(!s.ends_with(".git") && !s.ends_with(".lock"));
}

void check_ref(std::string_view s) {
  if (!mesh::repl::valid_ref_name(s)) return;
  // What git-check-ref-format requires, plus this plugin's heads/tags and no '-' or '.' starts.
  check(s.size() <= mesh::repl::kMaxRefName);
  check(s.starts_with("refs/heads/") || s.starts_with("refs/tags/"));
  check(!has_bad_byte(s));
  check(s.find("..") == std::string_view::npos && s.find("@{") == std::string_view::npos);
  check(s.find("//") == std::string_view::npos && s != "@");
  check(!s.ends_with('/') && !s.ends_with('.'));
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('/', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view part = s.substr(start, end - start);
    check(!part.empty() && part.front() != '.' && part.front() != '-' && !part.ends_with(".lock"));
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_repo(text);
  check_ref(text);
  // The same bytes as the tail of a ref, so the fuzzer gets past the fixed prefix.
  check_ref("refs/heads/" + std::string(text));
  if (auto p = mesh::repl::parse_git_path(text)) check(mesh::repl::valid_repo_name(p->repo));
  if (auto p = mesh::repl::parse_git_path("/" + std::string(text))) {
    check(mesh::repl::valid_repo_name(p->repo));
  }
  if (mesh::repl::valid_oid(text)) {
    check(size == 40);
    for (char c : text) check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
  return 0;
}
