// certificate_member_id: the member id of a node certificate, read from its SubjectPublicKeyInfo
// by walking the DER (what plugins pin libgit2 connections with).
#include "mesh/member_cert.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "mesh/identity/identity.hpp"

namespace {

std::vector<unsigned char> der_of(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  std::vector<unsigned char> der(static_cast<std::size_t>(len > 0 ? len : 0));
  unsigned char* p = der.data();
  i2d_X509(cert, &p);
  return der;
}

std::vector<unsigned char> der_of_pem(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), (int)pem.size()),
                                                &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  return cert ? der_of(cert.get()) : std::vector<unsigned char>{};
}

TEST(MemberCert, ANodeCertificateGivesTheNodeId) {
  auto id = mesh::identity::Identity::generate();
  auto tls = id.tls_material("alice");
  ASSERT_TRUE(tls);
  auto der = der_of_pem(tls->cert_pem);
  ASSERT_FALSE(der.empty());
  EXPECT_EQ(mesh::sdk::certificate_member_id(der.data(), der.size()), id.public_key().id());
}

// A certificate whose subject carries another key's SubjectPublicKeyInfo bytes: the key is the
// one in the SubjectPublicKeyInfo field, never a byte pattern found earlier.
TEST(MemberCert, ABytePatternInTheSubjectIsNotTheKey) {
  auto victim = mesh::identity::Identity::generate();
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> kctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), &EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_keygen_init(kctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_keygen(kctx.get(), &raw), 1);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(raw, &EVP_PKEY_free);
  unsigned char pub[32];
  size_t pub_len = sizeof pub;
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(key.get(), pub, &pub_len), 1);

  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  // The victim's SPKI, byte for byte, as the subject's organisation.
  std::vector<unsigned char> spki = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                     0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
  const auto& vk = victim.public_key().bytes;
  spki.insert(spki.end(), vk.begin(), vk.end());
  X509_NAME* name = X509_get_subject_name(cert.get());
  // Raw bytes (not an MBSTRING type): OpenSSL stores them as given.
  ASSERT_EQ(
      X509_NAME_add_entry_by_txt(name, "O", V_ASN1_T61STRING, spki.data(), (int)spki.size(), -1, 0),
      1);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  ASSERT_GT(X509_sign(cert.get(), key.get(), nullptr), 0);
  auto der = der_of(cert.get());
  // The pattern really is in the DER, before the real key.
  std::string hay(der.begin(), der.end()), needle(spki.begin(), spki.end());
  ASSERT_NE(hay.find(needle), std::string::npos);

  mesh::identity::PublicKey mine;
  std::copy(pub, pub + 32, mine.bytes.begin());
  EXPECT_EQ(mesh::sdk::certificate_member_id(der.data(), der.size()), mine.id());
  EXPECT_NE(mesh::sdk::certificate_member_id(der.data(), der.size()), victim.public_key().id());
}

TEST(MemberCert, MalformedInputGivesNothing) {
  auto id = mesh::identity::Identity::generate();
  auto tls = id.tls_material("bob");
  ASSERT_TRUE(tls);
  auto der = der_of_pem(tls->cert_pem);
  EXPECT_EQ(mesh::sdk::certificate_member_id(nullptr, 10), "");
  EXPECT_EQ(mesh::sdk::certificate_member_id(der.data(), 0), "");
  // Every truncation is refused, never read past.
  for (std::size_t n = 1; n < der.size(); ++n) {
    auto cut = std::vector<unsigned char>(der.begin(), der.begin() + (long)n);
    EXPECT_EQ(mesh::sdk::certificate_member_id(cut.data(), cut.size()), "") << n;
  }
  // Another key type: a P-256 certificate has no member id.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ec(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  ASSERT_TRUE(ec);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), ec.get());
  ASSERT_GT(X509_sign(cert.get(), ec.get(), EVP_sha256()), 0);
  auto p256 = der_of(cert.get());
  EXPECT_EQ(mesh::sdk::certificate_member_id(p256.data(), p256.size()), "");
}

}  // namespace
