// Internal to mesh_identity: the parts every certificate the node makes has in common.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "mesh/base/result.hpp"

namespace mesh::identity::detail {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

// What local clients verify the name against: every way the user's tools reach this machine.
inline constexpr const char* kLocalSubjectAltNames = "DNS:localhost,IP:127.0.0.1,IP:::1";

struct CertSpec {
  std::span<const std::uint8_t> serial;  // big-endian, its top bit clear (a positive INTEGER)
  const char* not_before;                // ASN.1 time text, e.g. "20240101000000Z"
  const char* not_after;
  std::string_view common_name;
  const EVP_MD* digest = nullptr;  // nullptr for Ed25519 (no separate digest)
};

// A self-signed X.509 v3 certificate for `key` with the local subjectAltNames.
Result<X509Ptr> self_signed(EVP_PKEY* key, const CertSpec& spec);

std::string to_pem(X509* cert);
std::string to_pem(EVP_PKEY* key);

}  // namespace mesh::identity::detail
