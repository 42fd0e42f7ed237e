// One pass over a file computing what verification needs: its size, the BLAKE2b-512 that
// minisign's prehashed signatures sign, and the sha256 that release metadata carries. A large
// archive is read once and never held in memory (except for legacy signatures, which sign the
// whole content).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "errors.hpp"
#include "fsutil.hpp"

namespace mesh::updater {

using Sha256 = std::array<unsigned char, 32>;
using Blake2b512 = std::array<unsigned char, 64>;

struct FileDigest {
  std::uint64_t size = 0;
  Blake2b512 blake2b{};
  Sha256 sha256{};
};

// Reads `file` from its start to its end. More than max_bytes is Errc::too_large.
// With `content` set, the bytes are also appended there (for legacy minisign signatures).
Result<FileDigest> digest_file(const OpenFile& file, std::uint64_t max_bytes,
                               std::string* content = nullptr);

std::string to_hex(const unsigned char* data, std::size_t len);
template <std::size_t N>
std::string to_hex(const std::array<unsigned char, N>& a) {
  return to_hex(a.data(), a.size());
}

// 64 hex digits (either case), nothing else.
Result<Sha256> parse_sha256_hex(std::string_view hex);

}  // namespace mesh::updater
