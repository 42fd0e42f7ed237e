// Hex and base64 through libsodium (constant-time, and strict: a non-canonical encoding is
// refused); base32 by hand, since no library the project uses has it.
#include "mesh/base/encoding.hpp"

#include <sodium.h>

namespace mesh {
namespace {

constexpr char kB32[] = "abcdefghijklmnopqrstuvwxyz234567";

std::string base64_encode(std::span<const std::uint8_t> in, int variant) {
  std::string out(sodium_base64_encoded_len(in.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), in.data(), in.size(), variant);
  out.resize(out.size() - 1);  // libsodium counts the terminating NUL
  return out;
}

}  // namespace

std::string to_hex(std::span<const std::uint8_t> data) {
  std::string out(data.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data.data(), data.size());
  out.pop_back();
  return out;
}

std::optional<Bytes> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  if (text.empty()) return Bytes{};  // libsodium must not be handed an empty vector's null data()
  Bytes out(text.size() / 2);
  std::size_t len = 0;
  // No characters to ignore and no end pointer: the whole text must be hex.
  if (sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr) !=
          0 ||
      len != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::string to_base64url(std::span<const std::uint8_t> data) {
  return base64_encode(data, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::string to_base64(std::span<const std::uint8_t> data) {
  return base64_encode(data, sodium_base64_VARIANT_ORIGINAL);
}

std::optional<Bytes> from_base64url(std::string_view text) {
  Bytes out(text.size() / 4 * 3 + 3);
  std::size_t len = 0;
  // libsodium refuses stray low bits, impossible lengths, padding and foreign characters, so
  // every byte string has exactly one accepted encoding.
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string to_base32(std::span<const std::uint8_t> data) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (auto b : data) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += kB32[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += kB32[(acc << (5 - bits)) & 31];
  return out;
}

std::optional<Bytes> from_base32(std::string_view text) {
  Bytes out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'a' && c <= 'z')
      v = c - 'a';
    else if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= '2' && c <= '7')
      v = c - '2' + 26;
    else
      return std::nullopt;
    acc = (acc << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 5 || (bits > 0 && (acc & ((1u << bits) - 1)) != 0)) return std::nullopt;
  return out;
}

}  // namespace mesh
