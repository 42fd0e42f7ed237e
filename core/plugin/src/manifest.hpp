// The manifest beside each plugin (<id>.json, written by mesh_add_plugin) and the library's
// checksum. Internal to the plugin module.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "mesh/base/result.hpp"

namespace mesh::plugin {

inline constexpr std::size_t kMaxManifestBytes = 64 * 1024;
inline constexpr std::uintmax_t kMaxLibraryBytes = 512ull << 20;

struct Manifest {
  std::string id;
  std::string version;
  std::uint32_t abi_major = 0;
  std::uint32_t abi_minor = 0;
  std::string library;  // a plain file name beside the manifest
  std::string sha256;   // lowercase hex
};

// Parses and validates the manifest text (no ABI negotiation here: the caller compares).
Result<Manifest> parse_manifest(std::string_view json);

// sha256 of a regular file of at most kMaxLibraryBytes, as lowercase hex.
Result<std::string> sha256_file(const std::filesystem::path& file);

// Plain printable text for plugin-supplied messages: control characters become spaces and
// the result is capped at max_bytes.
std::string sanitize(std::string_view text, std::size_t max_bytes);

}  // namespace mesh::plugin
