#include "commit_refs.hpp"

#include <algorithm>
#include <array>

#include "validate.hpp"

namespace mesh::issues {
namespace {

constexpr std::array<std::string_view, 9> kKeywords{
    "close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved"};

bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool digit(char c) {
  return c >= '0' && c <= '9';
}
bool hex(char c) {
  return digit(c) || (c >= 'a' && c <= 'f');
}
bool repo_char(char c) {
  return word_char(c) || c == '.' || c == '-';
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool keyword(std::string_view word) {
  if (word.size() > 8) return false;
  std::string w(word);
  std::transform(w.begin(), w.end(), w.begin(), lower);
  return std::find(kKeywords.begin(), kKeywords.end(), w) != kKeywords.end();
}

// Parses "[repo]#<digits>[-<hex>]" at text[i], which must end at a non-word character; fills
// out and returns true.
bool reference(std::string_view text, std::size_t i, ClosingRef& out) {
  std::size_t j = i;
  while (j < text.size() && repo_char(text[j])) ++j;
  std::string_view repo = text.substr(i, j - i);
  if (j >= text.size() || text[j] != '#') return false;
  if (!repo.empty() && !valid_repo_name(repo)) return false;
  std::size_t k = j + 1, start = k;
  while (k < text.size() && digit(text[k])) ++k;
  if (k == start || k - start > 10 || text[start] == '0') return false;
  std::size_t end = k;
  if (k < text.size() && text[k] == '-') {  // "#12-3fa9": 4..32 hex digits of the full id
    std::size_t h = k + 1;
    while (h < text.size() && hex(text[h])) ++h;
    std::size_t len = h - (k + 1);
    if (len >= 4 && len <= 32 && (h == text.size() || !word_char(text[h]))) end = h;
  }
  // "#12abc" is no reference.
  if (end == k && end < text.size() && word_char(text[end])) return false;
  out.repo = std::string(repo);
  out.ref = std::string(1, '#').append(text.substr(start, end - start));
  return true;
}

}  // namespace

std::vector<ClosingRef> closing_refs(std::string_view message) {
  std::string_view text = message.substr(0, kMaxMessage);
  std::vector<ClosingRef> out;
  std::size_t i = 0;
  while (i < text.size() && out.size() < kMaxRefs) {
    if (!word_char(text[i]) || (i > 0 && word_char(text[i - 1]))) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && word_char(text[j])) ++j;
    std::string_view word = text.substr(i, j - i);
    if (!keyword(word)) {
      i = j;
      continue;
    }
    std::size_t k = j;
    if (k < text.size() && text[k] == ':') ++k;
    std::size_t spaces = k;
    while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
    ClosingRef ref;
    if (k > spaces && reference(text, k, ref)) {
      ref.keyword = std::string(word);
      bool dup = std::any_of(out.begin(), out.end(), [&](const ClosingRef& r) {
        return r.repo == ref.repo && r.ref == ref.ref;
      });
      if (!dup) out.push_back(std::move(ref));
    }
    i = j;
  }
  return out;
}

}  // namespace mesh::issues
