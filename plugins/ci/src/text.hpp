// Free text that ends up in records, tables and logs (failure reasons, pipeline names).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mesh::ci {

// Well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool valid_utf8(std::string_view s);
// s as valid UTF-8 without control characters other than '\n' and '\t' (each bad byte or
// control becomes '?'), cut to at most max_bytes on a character boundary ("…" marks a cut).
std::string clean_text(std::string_view s, std::size_t max_bytes);

}  // namespace mesh::ci
