// Self-signed certificates (see x509_build.hpp).
#include "x509_build.hpp"

#include <openssl/bn.h>
#include <openssl/x509v3.h>

namespace mesh::identity::detail {
namespace {

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

bool add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

Result<X509Ptr> self_signed(EVP_PKEY* key, const CertSpec& spec) {
  X509Ptr cert(X509_new());
  if (!cert) return make_error(Errc::crypto, "X509_new failed");
  X509_set_version(cert.get(), 2);
  BIGNUM* bn = BN_bin2bn(spec.serial.data(), static_cast<int>(spec.serial.size()), nullptr);
  const bool serial_ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  if (!serial_ok) return make_error(Errc::crypto, "cannot set the certificate serial");
  if (ASN1_TIME_set_string_X509(X509_getm_notBefore(cert.get()), spec.not_before) != 1 ||
      ASN1_TIME_set_string_X509(X509_getm_notAfter(cert.get()), spec.not_after) != 1) {
    return make_error(Errc::crypto, "cannot set the certificate validity");
  }
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  std::string cn(spec.common_name.empty() ? std::string_view("mesh-node")
                                          : spec.common_name.substr(0, 64));
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (!add_extension(cert.get(), NID_subject_alt_name, kLocalSubjectAltNames)) {
    return make_error(Errc::crypto, "cannot add the certificate's subjectAltName");
  }
  if (X509_sign(cert.get(), key, spec.digest) <= 0) {
    return make_error(Errc::crypto, "cannot sign the certificate");
  }
  return cert;
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bio_string(bio.get());
}

std::string to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_string(bio.get());
}

}  // namespace mesh::identity::detail
