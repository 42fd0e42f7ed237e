// The P-256 certificate for local clients and the CA file (see local_tls.hpp).
#include "mesh/identity/local_tls.hpp"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <sys/stat.h>

#include <array>

#include "mesh/base/files.hpp"
#include "x509_build.hpp"

namespace mesh::identity {
namespace fs = std::filesystem;
namespace {

using detail::BioPtr;
using detail::PkeyPtr;
using detail::X509Ptr;

constexpr std::size_t kMaxPem = 64 * 1024;
constexpr const char* kNotAfter = "99991231235959Z";

std::string fix_hint(const fs::path& root) {
  return " (to make a new pair: remove " + local_tls_key_path(root).string() + " and " +
         local_tls_cert_path(root).string() + ", start the node, then run mesh ssl again)";
}

Result<TlsMaterial> create(const fs::path& root, std::string_view common_name) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return make_error(Errc::crypto, "cannot make a P-256 key");
  std::array<std::uint8_t, 16> serial{};
  randombytes_buf(serial.data(), serial.size());
  serial[0] = static_cast<std::uint8_t>((serial[0] & 0x7f) | 0x40);
  // Valid from yesterday (clocks disagree a little), for good: it is never rotated by itself.
  ASN1_TIME* now = X509_gmtime_adj(nullptr, -24 * 3600);
  if (!now) return make_error(Errc::crypto, "cannot read the clock");
  std::string not_before;
  if (ASN1_GENERALIZEDTIME* gen = ASN1_TIME_to_generalizedtime(now, nullptr)) {
    not_before.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gen)),
                      static_cast<std::size_t>(ASN1_STRING_length(gen)));
    ASN1_GENERALIZEDTIME_free(gen);
  }
  ASN1_TIME_free(now);
  if (not_before.empty()) return make_error(Errc::crypto, "cannot format the validity");
  auto cert = detail::self_signed(key.get(), detail::CertSpec{serial, not_before.c_str(), kNotAfter,
                                                              common_name, EVP_sha256()});
  if (!cert) return make_error(cert.error().code, "local certificate: " + cert.error().message);
  TlsMaterial out{detail::to_pem(cert->get()), detail::to_pem(key.get())};
  // The key first: a crash between the two writes leaves a key without a certificate, which
  // the next start replaces as a pair.
  if (auto st = ensure_dir(local_tls_key_path(root).parent_path(), fs::perms::owner_all); !st) {
    return st.error();
  }
  if (auto st = write_file_atomic(local_tls_key_path(root), out.key_pem); !st) return st.error();
  if (auto st = write_file_atomic(local_tls_cert_path(root), out.cert_pem); !st) {
    return st.error();
  }
  return out;
}

Result<TlsMaterial> load(const fs::path& root) {
  const fs::path key_path = local_tls_key_path(root);
  struct stat st {};
  if (::stat(key_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return make_error(Errc::denied, key_path.string() +
                                        ": the local TLS key is readable by others; fix it with: "
                                        "chmod 600 " +
                                        key_path.string());
  }
  auto key_pem = read_file(key_path, kMaxPem);
  if (!key_pem) return key_pem.error();
  auto cert_pem = read_file(local_tls_cert_path(root), kMaxPem);
  if (!cert_pem) return cert_pem.error();
  BioPtr kbio(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
  BioPtr cbio(BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size())));
  X509Ptr cert(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
  if (!key || !cert) {
    return make_error(Errc::invalid, "malformed local TLS key or certificate" + fix_hint(root));
  }
  char group[32] = {};
  std::size_t group_len = 0;
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key.get(), "group", group, sizeof group, &group_len) != 1 ||
      std::string_view(group, group_len) != "prime256v1") {
    return make_error(Errc::invalid, "the local TLS key is not a P-256 key" + fix_hint(root));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return make_error(Errc::invalid,
                      "the local TLS certificate does not match its key" + fix_hint(root));
  }
  return TlsMaterial{std::move(*cert_pem), std::move(*key_pem)};
}

}  // namespace

fs::path local_tls_key_path(const fs::path& root) {
  return root / "keys" / "local-tls.key";
}

fs::path local_tls_cert_path(const fs::path& root) {
  return root / "keys" / "local-tls.crt";
}

fs::path local_ca_path(const fs::path& root) {
  return root / "tls" / "local-ca.pem";
}

Result<TlsMaterial> load_or_create_local_tls(const fs::path& root, std::string_view common_name) {
  std::error_code ec;
  const bool have_key = fs::exists(local_tls_key_path(root), ec);
  const bool have_cert = fs::exists(local_tls_cert_path(root), ec);
  if (have_key && have_cert) return load(root);
  return create(root, common_name);
}

Status write_local_ca(const fs::path& root, std::string_view node_cert_pem,
                      std::string_view local_cert_pem) {
  std::string content;
  content += "# This mesh node's TLS certificates for local clients (git, curl, browsers):\n";
  content += "# Ed25519 (TLS 1.3) and ECDSA P-256 (TLS 1.2). Written by the daemon; `mesh ssl`\n";
  content += "# points git's http.sslCAInfo here.\n";
  content += node_cert_pem;
  content += local_cert_pem;
  const fs::path path = local_ca_path(root);
  if (auto old = read_file(path, kMaxPem); old && *old == content) return {};
  if (auto st = ensure_dir(path.parent_path(), fs::perms::owner_all | fs::perms::group_read |
                                                   fs::perms::group_exec | fs::perms::others_read |
                                                   fs::perms::others_exec);
      !st) {
    return st.error();
  }
  return write_file_atomic(path, content,
                           fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                               fs::perms::others_read);
}

}  // namespace mesh::identity
