#include "ids.hpp"

#include <sodium.h>

#include <array>

namespace mesh::issues {

std::string op_id(std::string_view origin, std::uint64_t seq) {
  static constexpr unsigned char kDomain[] = "mesh-issues-op-v1";  // with its NUL
  std::array<unsigned char, 8> seq_be;
  for (int i = 0; i < 8; ++i)
    seq_be[static_cast<std::size_t>(i)] = static_cast<unsigned char>(seq >> (56 - 8 * i));
  crypto_generichash_state st;
  std::array<unsigned char, 16> digest;
  crypto_generichash_init(&st, nullptr, 0, digest.size());
  crypto_generichash_update(&st, kDomain, sizeof kDomain);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(origin.data()),
                            origin.size());
  crypto_generichash_update(&st, seq_be.data(), seq_be.size());
  crypto_generichash_final(&st, digest.data(), digest.size());
  std::string hex(2 * digest.size() + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();  // the NUL sodium_bin2hex writes
  return hex;
}

}  // namespace mesh::issues
