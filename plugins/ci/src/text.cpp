#include "text.hpp"

namespace mesh::ci {
namespace {

// Length of the UTF-8 sequence at s[i], or 0 if it is malformed.
std::size_t sequence_at(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3f);
  }
  static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = sequence_at(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string clean_text(std::string_view s, std::size_t max_bytes) {
  std::string out;
  constexpr std::string_view kCut = "…";
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = sequence_at(s, i);
    std::string_view piece = n == 0 ? "?" : s.substr(i, n);
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (n == 1 && ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)) piece = "?";
    if (out.size() + piece.size() > max_bytes) {
      while (out.size() + kCut.size() > max_bytes && !out.empty()) {
        // Drop whole characters from the end until the mark fits.
        std::size_t k = out.size() - 1;
        while (k > 0 && (static_cast<unsigned char>(out[k]) & 0xc0) == 0x80) --k;
        out.resize(k);
      }
      if (out.size() + kCut.size() <= max_bytes) out += kCut;
      return out;
    }
    out += piece;
    i += n == 0 ? 1 : n;
  }
  return out;
}

}  // namespace mesh::ci
