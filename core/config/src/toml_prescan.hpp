// A pass over mesh.toml before toml++ sees it. toml++ 3.3.0 (Debian 12) reaches a
// __builtin_unreachable() in its Unicode whitespace table for many non-ASCII characters (U+00E9,
// U+028A, U+03F0, ...: undefined behaviour, found by fuzz_config_load under UBSan) when it meets
// one outside a string, or inside a string it is rejecting. TOML allows non-ASCII text only in
// strings and comments, and forbids control characters in strings, so such files are invalid:
// they are refused here with their line and column, and toml++ only sees strings it accepts.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mesh::config::detail {

struct PrescanError {
  std::size_t line = 1;    // 1-based
  std::size_t column = 1;  // 1-based, in bytes
  std::string what;
};

// The first of: a byte >= 0x80 outside a string or a comment; a control character in a
// string (tab allowed, and line breaks in multi-line strings); a string that does not end; a
// backslash followed by a non-ASCII byte. Strings are "...", '...', """...""" and '''...''';
// a comment runs from # to the end of its line. nullopt when there is none of these.
std::optional<PrescanError> prescan_toml(std::string_view text);

}  // namespace mesh::config::detail
