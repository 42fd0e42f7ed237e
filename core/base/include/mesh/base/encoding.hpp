// Byte <-> text encodings used in ids, tokens and wire formats.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mesh {

using Bytes = std::vector<std::uint8_t>;

std::string to_hex(std::span<const std::uint8_t> data);
std::optional<Bytes> from_hex(std::string_view text);

// RFC 4648 base64url without padding.
std::string to_base64url(std::span<const std::uint8_t> data);
std::optional<Bytes> from_base64url(std::string_view text);

// RFC 4648 standard base64 with padding (used for PEM-free SPKI pins and headers).
std::string to_base64(std::span<const std::uint8_t> data);

// RFC 4648 base32, lowercase, without padding (node ids).
std::string to_base32(std::span<const std::uint8_t> data);
std::optional<Bytes> from_base32(std::string_view text);

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace mesh
