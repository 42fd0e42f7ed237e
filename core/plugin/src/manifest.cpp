#include "manifest.hpp"

#include <sodium.h>

#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <system_error>

namespace mesh::plugin {
namespace {

bool is_version_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
         c == '+' || c == '~' || c == '-';
}

Result<std::string> string_field(const boost::json::object& o, std::string_view key,
                                 std::size_t max_len) {
  const boost::json::value* v = o.if_contains(key);
  if (!v) return make_error(Errc::invalid, "manifest has no \"" + std::string(key) + "\"");
  if (!v->is_string())
    return make_error(Errc::invalid, "manifest \"" + std::string(key) + "\" is not a string");
  const auto& s = v->get_string();
  if (s.empty() || s.size() > max_len)
    return make_error(Errc::invalid, "manifest \"" + std::string(key) +
                                         "\" is empty or longer than " + std::to_string(max_len) +
                                         " characters");
  return std::string(s.data(), s.size());
}

// "1.0" -> (1, 0); small decimal numbers only.
bool parse_abi(std::string_view s, std::uint32_t& major, std::uint32_t& minor) {
  auto dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == s.size()) return false;
  auto num = [](std::string_view d, std::uint32_t& out) {
    if (d.size() > 4) return false;
    out = 0;
    for (char c : d) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + static_cast<std::uint32_t>(c - '0');
    }
    return true;
  };
  return num(s.substr(0, dot), major) && num(s.substr(dot + 1), minor);
}

}  // namespace

Result<Manifest> parse_manifest(std::string_view json) {
  if (json.size() > kMaxManifestBytes) return make_error(Errc::limit, "manifest is too large");
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 8;
  boost::json::value root = boost::json::parse(json, ec, {}, opts);
  if (ec) return make_error(Errc::invalid, "manifest is not valid JSON: " + ec.message());
  if (!root.is_object()) return make_error(Errc::invalid, "manifest is not a JSON object");
  const auto& o = root.get_object();

  Manifest m;
  auto id = string_field(o, "id", 64);
  if (!id) return id.error();
  m.id = std::move(*id);

  auto version = string_field(o, "version", 64);
  if (!version) return version.error();
  for (char c : *version)
    if (!is_version_char(c))
      return make_error(Errc::invalid,
                        "manifest version '" + *version + "' has invalid characters");
  m.version = std::move(*version);

  auto abi = string_field(o, "abi", 16);
  if (!abi) return abi.error();
  if (!parse_abi(*abi, m.abi_major, m.abi_minor))
    return make_error(Errc::invalid, "manifest abi '" + *abi + "' is not MAJOR.MINOR");

  auto library = string_field(o, "library", 255);
  if (!library) return library.error();
  // A plain file name beside the manifest: nothing that could point elsewhere.
  if (library->find('/') != std::string::npos || (*library)[0] == '.' || library->size() < 4 ||
      library->compare(library->size() - 3, 3, ".so") != 0)
    return make_error(Errc::invalid, "manifest library '" + *library +
                                         "' must be a plain file name ending in .so");
  m.library = std::move(*library);

  auto sha = string_field(o, "sha256", 64);
  if (!sha) return sha.error();
  if (sha->size() != 64 || sha->find_first_not_of("0123456789abcdef") != std::string::npos)
    return make_error(Errc::invalid, "manifest sha256 is not 64 lowercase hex digits");
  m.sha256 = std::move(*sha);
  return m;
}

Result<std::string> sha256_file(const std::filesystem::path& file) {
  std::error_code ec;
  auto st = std::filesystem::status(file, ec);
  if (ec || !std::filesystem::is_regular_file(st))
    return make_error(Errc::not_found, file.string() + " is not a regular file");
  auto size = std::filesystem::file_size(file, ec);
  if (ec) return make_error(Errc::io, "cannot stat " + file.string() + ": " + ec.message());
  if (size > kMaxLibraryBytes) return make_error(Errc::limit, file.string() + " is too large");

  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(Errc::io, "cannot open " + file.string());
  if (sodium_init() < 0) return make_error(Errc::crypto, "libsodium failed to initialise");
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  std::array<char, 64 * 1024> buf;
  std::uintmax_t total = 0;
  while (in) {
    in.read(buf.data(), buf.size());
    auto n = in.gcount();
    if (n <= 0) break;
    total += static_cast<std::uintmax_t>(n);
    if (total > kMaxLibraryBytes) return make_error(Errc::limit, file.string() + " is too large");
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(buf.data()),
                              static_cast<unsigned long long>(n));
  }
  if (in.bad()) return make_error(Errc::io, "cannot read " + file.string());
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest;
  crypto_hash_sha256_final(&state, digest.data());
  std::string hex(digest.size() * 2, '0');
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < digest.size(); ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

std::string sanitize(std::string_view text, std::size_t max_bytes) {
  std::string out(text.substr(0, max_bytes));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  if (text.size() > max_bytes) out += "...";
  return out;
}

}  // namespace mesh::plugin
