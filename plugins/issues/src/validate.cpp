#include "validate.hpp"

#include <cstdint>

#include "limits.hpp"
#include "mesh/names.hpp"

namespace mesh::issues {
namespace {

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Decodes one code point at text[i], advancing i; -1 for malformed UTF-8.
std::int32_t next_code_point(std::string_view text, std::size_t& i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t n;
  std::uint32_t cp, min;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (i + n > text.size()) return -1;
  for (std::size_t k = 1; k < n; ++k) {
    unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  i += n;
  return static_cast<std::int32_t>(cp);
}

bool control(std::int32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

// LRE..RLO and LRI..PDI: text that displays in another order than it is stored.
bool bidi_override(std::int32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

enum class Line { single, multi };

// "" if fine, else what is wrong, for the message.
std::string text_problem(std::string_view text, Line line) {
  for (std::size_t i = 0; i < text.size();) {
    std::int32_t cp = next_code_point(text, i);
    if (cp < 0) return "is not valid UTF-8";
    if (line == Line::multi && (cp == '\t' || cp == '\n' || cp == '\r')) continue;
    if (control(cp)) return "contains a control character";
    if (line == Line::single && bidi_override(cp)) {
      return "contains a bidirectional override character";
    }
  }
  return {};
}

Problem problem(std::string reason, std::string message) {
  return Problem{std::move(reason), std::move(message)};
}

}  // namespace

bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (next_code_point(text, i) < 0) return false;
  }
  return true;
}

bool valid_repo_name(std::string_view name) {
  return names::valid_repo_name(name);
}

bool valid_full_id(std::string_view id) {
  return id.size() == 32 && lower_hex(id);
}

bool valid_commit_id(std::string_view id) {
  return (id.size() == 40 || id.size() == 64) && lower_hex(id);
}

Check check_repo(std::string_view repo) {
  if (valid_repo_name(repo)) return std::nullopt;
  return problem("repo",
                 "invalid repo name (1-100 of A-Z a-z 0-9 . _ -, starting with a letter or digit, "
                 "no '..', no .git/.lock suffix)");
}

Check check_title(std::string_view title) {
  if (title.empty()) return problem("title", "the title is empty");
  if (title.size() > kMaxTitle) {
    return problem("title", "the title is " + std::to_string(title.size()) + " bytes; at most " +
                                std::to_string(kMaxTitle) + " are allowed");
  }
  if (auto bad = text_problem(title, Line::single); !bad.empty()) {
    return problem("title", "the title " + bad);
  }
  if (title.find_first_not_of(' ') == std::string_view::npos) {
    return problem("title", "the title is only spaces");
  }
  return std::nullopt;
}

Check check_body(std::string_view body, std::string_view what) {
  const std::string name(what);
  if (body.size() > kMaxBody) {
    return problem(name, "the " + name + " is " + std::to_string(body.size()) + " bytes; at most " +
                             std::to_string(kMaxBody) + " (60 KiB) are allowed");
  }
  if (auto bad = text_problem(body, Line::multi); !bad.empty()) {
    return problem(
        name, "the " + name + " " + bad + " (only tab, newline and carriage return are allowed)");
  }
  return std::nullopt;
}

Check check_label(std::string_view label) {
  if (label.empty()) return problem("label", "a label is empty");
  if (label.size() > kMaxLabel) {
    return problem("label", "a label is " + std::to_string(label.size()) + " bytes; at most " +
                                std::to_string(kMaxLabel) + " are allowed");
  }
  if (auto bad = text_problem(label, Line::single); !bad.empty()) {
    return problem("label", "a label " + bad);
  }
  if (label.front() == ' ' || label.back() == ' ') {
    return problem("label", "a label starts or ends with a space");
  }
  if (label.front() == '+' || label.front() == '-') {
    return problem("label", "a label must not start with '+' or '-'");
  }
  if (label.find(',') != std::string_view::npos) {
    return problem("label", "a label must not contain ','");
  }
  return std::nullopt;
}

Check check_assignee(std::string_view who) {
  bool ok = !who.empty() && who.size() <= kMaxAssignee && alnum(who.front());
  for (char c : who) {
    ok = ok && (alnum(c) || c == '.' || c == '_' || c == ':' || c == '@' || c == '-');
  }
  if (ok) return std::nullopt;
  return problem("assignee",
                 "invalid assignee (1-128 of A-Z a-z 0-9 . _ : @ -, starting with a letter or "
                 "digit: a member's name or mesh: id)");
}

}  // namespace mesh::issues
