#include "toml_prescan.hpp"

namespace mesh::config::detail {

namespace {

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::optional<PrescanError> run() {
    while (i_ < text_.size()) {
      char c = text_[i_];
      if (c == '#') {
        while (i_ < text_.size() && text_[i_] != '\n') advance(1);
      } else if (starts("\"\"\"")) {
        if (auto e = string_body("\"\"\"", true)) return e;
      } else if (starts("'''")) {
        if (auto e = string_body("'''", false)) return e;
      } else if (c == '"') {
        if (auto e = string_body("\"", true)) return e;
      } else if (c == '\'') {
        if (auto e = string_body("'", false)) return e;
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        return fail(
            "a non-ASCII character outside a string or a comment (TOML allows them "
            "only in quoted strings and comments)");
      } else {
        advance(1);
      }
    }
    return std::nullopt;
  }

 private:
  void advance(std::size_t n) {
    for (std::size_t k = 0; k < n && i_ < text_.size(); ++k, ++i_) {
      if (text_[i_] == '\n') {
        ++line_;
        column_ = 1;
      } else {
        ++column_;
      }
    }
  }
  bool starts(std::string_view s) const { return text_.substr(i_).starts_with(s); }
  PrescanError fail(std::string what) const { return {line_, column_, std::move(what)}; }

  // The string whose opening delimiter is at the current position, up to its closing one.
  std::optional<PrescanError> string_body(std::string_view delim, bool escapes) {
    const bool multiline = delim.size() == 3;
    const PrescanError opened = fail("a string that does not end");
    advance(delim.size());
    while (i_ < text_.size()) {
      auto c = static_cast<unsigned char>(text_[i_]);
      if (starts(delim)) {
        advance(delim.size());
        // A multi-line string may end with up to two more quotes ("""a""""" is valid).
        for (int k = 0; k < 2 && multiline && i_ < text_.size() && text_[i_] == delim[0]; ++k)
          advance(1);
        return std::nullopt;
      }
      if (c == '\n' || c == '\r') {
        if (!multiline) return opened;
      } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return fail("a control character in a string");
      } else if (escapes && c == '\\') {
        if (i_ + 1 < text_.size() && static_cast<unsigned char>(text_[i_ + 1]) >= 0x80)
          return fail("a backslash followed by a non-ASCII character in a string");
        // The escaped character is checked like any other (a line break is valid only in a
        // multi-line string, where it trims; toml++ checks what escapes mean).
        if (i_ + 1 < text_.size() && text_[i_ + 1] != '\n' && text_[i_ + 1] != '\r') {
          advance(2);
          continue;
        }
      }
      advance(1);
    }
    return opened;
  }

  std::string_view text_;
  std::size_t i_ = 0, line_ = 1, column_ = 1;
};

}  // namespace

std::optional<PrescanError> prescan_toml(std::string_view text) {
  return Scanner(text).run();
}

}  // namespace mesh::config::detail
