#include "branch_glob.hpp"

#include <cstdint>

#include "limits.hpp"
#include "names.hpp"

namespace mesh::ci {
namespace {

enum class Tok : std::uint8_t { literal, one, star, any, any_dir };

struct Token {
  Tok kind;
  char c = 0;
};

std::vector<Token> tokenize(std::string_view glob) {
  std::vector<Token> out;
  for (std::size_t i = 0; i < glob.size(); ++i) {
    char c = glob[i];
    if (c == '*' && i + 1 < glob.size() && glob[i + 1] == '*') {
      if (i + 2 < glob.size() && glob[i + 2] == '/') {
        out.push_back({Tok::any_dir});
        i += 2;
      } else {
        out.push_back({Tok::any});
        i += 1;
      }
    } else if (c == '*') {
      out.push_back({Tok::star});
    } else if (c == '?') {
      out.push_back({Tok::one});
    } else {
      out.push_back({Tok::literal, c});
    }
  }
  return out;
}

}  // namespace

bool glob_match(std::string_view glob, std::string_view name) {
  auto toks = tokenize(glob);
  const std::size_t t = toks.size();
  const std::size_t n = name.size();
  // m[i][j]: tokens i.. match name[j..]. Filled backwards; O(t * n), both at most 255 here.
  std::vector<std::vector<char>> m(t + 1, std::vector<char>(n + 1, 0));
  m[t][n] = 1;
  for (std::size_t ii = t; ii-- > 0;) {
    const Token& tok = toks[ii];
    // For any_dir: tail[j] = some k >= j has name[k] == '/' and tokens ii+1.. match name[k+1..].
    char tail = 0;
    for (std::size_t j = n + 1; j-- > 0;) {
      bool more = j < n;
      char r = 0;
      switch (tok.kind) {
        case Tok::literal:
          r = more && name[j] == tok.c && m[ii + 1][j + 1];
          break;
        case Tok::one:
          r = more && name[j] != '/' && m[ii + 1][j + 1];
          break;
        case Tok::star:
          r = m[ii + 1][j] || (more && name[j] != '/' && m[ii][j + 1]);
          break;
        case Tok::any:
          r = m[ii + 1][j] || (more && m[ii][j + 1]);
          break;
        case Tok::any_dir:
          if (more) tail = tail || (name[j] == '/' && m[ii + 1][j + 1]);
          r = m[ii + 1][j] || (more && tail);
          break;
      }
      m[ii][j] = r;
    }
  }
  return m[0][0] != 0;
}

Status check_branch_pattern(std::string_view pattern) {
  std::string shown(pattern.substr(0, 64));
  if (pattern.empty()) return fail("empty branch pattern");
  if (pattern.size() > limits::kBranchPatternBytes)
    return fail("branch pattern longer than 255 bytes");
  std::string_view glob = pattern.front() == '!' ? pattern.substr(1) : pattern;
  if (glob.empty()) return fail("branch pattern '!' excludes nothing");
  for (unsigned char c : glob) {
    if (c < 0x20 || c == 0x7f || c == ' ')
      return fail("branch pattern '" + shown + "' has a space or control character");
    if (c == '[' || c == ']' || c == '\\')
      return fail("branch pattern '" + shown +
                  "': character classes and backslashes are not supported");
    if (c == '!') return fail("branch pattern '" + shown + "': '!' only at the start");
  }
  if (glob.find("***") != std::string_view::npos)
    return fail("branch pattern '" + shown + "': use * or **, not ***");
  return {};
}

Result<BranchFilter> BranchFilter::make(std::vector<std::string> patterns) {
  if (patterns.size() > limits::kBranchPatterns)
    return fail("more than " + std::to_string(limits::kBranchPatterns) + " branch patterns");
  bool any_positive = patterns.empty();
  for (const auto& p : patterns) {
    if (auto st = check_branch_pattern(p); !st) return st.error();
    if (p.front() != '!') any_positive = true;
  }
  if (!any_positive)
    return fail("branch patterns are all exclusions ('!…'): add one that includes, e.g. '**'");
  BranchFilter f;
  f.all_ = false;
  f.patterns_ = std::move(patterns);
  return f;
}

bool BranchFilter::matches_branch(std::string_view branch) const {
  if (branch.empty()) return false;
  if (all_) return true;
  bool in = false;
  for (const auto& p : patterns_) {
    bool negated = p.front() == '!';
    std::string_view glob = negated ? std::string_view(p).substr(1) : std::string_view(p);
    if (glob_match(glob, branch)) in = !negated;
  }
  return in;
}

bool BranchFilter::matches_ref(std::string_view ref) const {
  return matches_branch(branch_of(ref));
}

}  // namespace mesh::ci
