#include "digest.hpp"

#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace mesh::updater {

Result<FileDigest> digest_file(const OpenFile& file, std::uint64_t max_bytes,
                               std::string* content) {
  if (sodium_init() < 0) return make_error(Errc::io, "libsodium failed to initialise");
  if (auto st = file.rewind(); !st) return st.error();
  crypto_generichash_state blake;
  crypto_hash_sha256_state sha;
  crypto_generichash_init(&blake, nullptr, 0, crypto_generichash_BYTES_MAX);
  crypto_hash_sha256_init(&sha);
  FileDigest out;
  std::vector<unsigned char> buf(256 * 1024);
  while (true) {
    ssize_t n = ::read(file.fd(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(Errc::io, std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;
    out.size += static_cast<std::uint64_t>(n);
    if (out.size > max_bytes) {
      return make_error(Errc::too_large,
                        "the file is over the limit of " + std::to_string(max_bytes) + " bytes");
    }
    crypto_generichash_update(&blake, buf.data(), static_cast<std::size_t>(n));
    crypto_hash_sha256_update(&sha, buf.data(), static_cast<std::size_t>(n));
    if (content) content->append(reinterpret_cast<const char*>(buf.data()), n);
  }
  crypto_generichash_final(&blake, out.blake2b.data(), out.blake2b.size());
  crypto_hash_sha256_final(&sha, out.sha256.data());
  return out;
}

std::string to_hex(const unsigned char* data, std::size_t len) {
  std::string hex(len * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), data, len);
  hex.pop_back();
  return hex;
}

Result<Sha256> parse_sha256_hex(std::string_view hex) {
  Sha256 out{};
  std::size_t got = 0;
  const char* end = nullptr;
  if (hex.size() != 64 ||
      sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &got, &end) != 0 ||
      got != out.size() || end != hex.data() + hex.size()) {
    return make_error(Errc::invalid, "a sha256 is 64 hex digits");
  }
  return out;
}

}  // namespace mesh::updater
