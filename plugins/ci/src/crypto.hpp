// The few primitives the ci plugin needs, from libsodium: SHA-256 in hex, and base64 (for log
// bytes inside JSON records).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mesh::ci {

// Lower-case hex of SHA-256(data).
std::string sha256_hex(std::string_view data);
// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);
// Standard base64 with padding; nullopt for anything else (whitespace included).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace mesh::ci
