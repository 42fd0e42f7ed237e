#include "mesh/identity/identity.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <sys/stat.h>

#include <memory>

#include "mesh/base/encoding.hpp"
#include "mesh/base/files.hpp"

namespace mesh::identity {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kPrefix = "mesh:";
constexpr std::string_view kKeyHeader = "mesh-ed25519-seed-v1\n";
// DER SubjectPublicKeyInfo prefix for an Ed25519 key (RFC 8410); the 32 key bytes follow.
constexpr std::uint8_t kSpkiPrefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                          0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

void ensure_sodium() {
  // sodium_init is idempotent and thread-safe; it returns 1 when already initialised.
  if (sodium_init() < 0) std::abort();
}

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

std::string PublicKey::id() const {
  return std::string(kPrefix) + to_base32(bytes);
}

std::string PublicKey::short_id() const {
  return to_base32(bytes).substr(0, 12);
}

std::string PublicKey::spki_pin() const {
  std::array<std::uint8_t, 44> spki{};
  std::copy(std::begin(kSpkiPrefix), std::end(kSpkiPrefix), spki.begin());
  std::copy(bytes.begin(), bytes.end(), spki.begin() + 12);
  std::array<std::uint8_t, 32> digest{};
  EVP_Digest(spki.data(), spki.size(), digest.data(), nullptr, EVP_sha256(), nullptr);
  return "sha256//" + to_base64(digest);
}

bool PublicKey::verify(std::span<const std::uint8_t> message,
                       std::span<const std::uint8_t> sig) const {
  ensure_sodium();
  if (sig.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), bytes.data()) == 0;
}

Result<PublicKey> parse_id(std::string_view text) {
  if (text.size() > 200) return make_error(Errc::invalid, "node id is too long");
  if (text.starts_with(kPrefix)) text.remove_prefix(kPrefix.size());
  auto raw = from_base32(text);
  if (!raw || raw->size() != 32) {
    return make_error(Errc::invalid, "not a mesh node id (expected mesh:<52 base32 characters>)");
  }
  PublicKey key;
  std::copy(raw->begin(), raw->end(), key.bytes.begin());
  return key;
}

Result<PublicKey> key_from_cert_der(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return make_error(Errc::crypto, "malformed certificate");
  EVP_PKEY* pkey = X509_get0_pubkey(cert.get());
  if (!pkey || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
    return make_error(Errc::crypto, "certificate key is not Ed25519");
  }
  PublicKey key;
  std::size_t len = key.bytes.size();
  if (EVP_PKEY_get_raw_public_key(pkey, key.bytes.data(), &len) != 1 || len != 32) {
    return make_error(Errc::crypto, "cannot read the certificate's Ed25519 key");
  }
  return key;
}

fs::path Identity::key_path(const fs::path& root) {
  return root / "keys" / "node.key";
}

Identity Identity::generate() {
  ensure_sodium();
  Identity id;
  randombytes_buf(id.seed_.data(), id.seed_.size());
  crypto_sign_seed_keypair(id.public_.bytes.data(), id.secret_.data(), id.seed_.data());
  return id;
}

Result<Identity> Identity::load(const fs::path& root) {
  ensure_sodium();
  fs::path path = key_path(root);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_error(Errc::not_found, path.string() + ": no node key (run: mesh init)");
  }
  if ((st.st_mode & 077) != 0) {
    return make_error(Errc::denied, path.string() +
                                        ": the node key is readable by others; fix it with: "
                                        "chmod 600 " +
                                        path.string());
  }
  auto text = read_file(path, 4096);
  if (!text) return text.error();
  std::string_view body = *text;
  if (!body.starts_with(kKeyHeader)) {
    return make_error(Errc::invalid, path.string() + ": not a mesh node key");
  }
  body.remove_prefix(kKeyHeader.size());
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  auto seed = from_base64url(body);
  if (!seed || seed->size() != 32) {
    return make_error(Errc::invalid, path.string() + ": malformed node key");
  }
  Identity id;
  std::copy(seed->begin(), seed->end(), id.seed_.begin());
  sodium_memzero(seed->data(), seed->size());
  crypto_sign_seed_keypair(id.public_.bytes.data(), id.secret_.data(), id.seed_.data());
  return id;
}

Result<Identity> Identity::load_or_create(const fs::path& root) {
  fs::path path = key_path(root);
  std::error_code ec;
  if (fs::exists(path, ec)) return load(root);
  if (auto st = ensure_dir(path.parent_path(), fs::perms::owner_all); !st) return st.error();
  Identity id = generate();
  std::string text = std::string(kKeyHeader) + to_base64url(id.seed_) + "\n";
  auto st = write_file_atomic(path, text, fs::perms::owner_read | fs::perms::owner_write);
  sodium_memzero(text.data(), text.size());
  if (!st) return st.error();
  return id;
}

Identity::Identity(Identity&& other) noexcept {
  *this = std::move(other);
}

Identity& Identity::operator=(Identity&& other) noexcept {
  seed_ = other.seed_;
  secret_ = other.secret_;
  public_ = other.public_;
  sodium_memzero(other.seed_.data(), other.seed_.size());
  sodium_memzero(other.secret_.data(), other.secret_.size());
  return *this;
}

Identity::~Identity() {
  sodium_memzero(seed_.data(), seed_.size());
  sodium_memzero(secret_.data(), secret_.size());
}

Signature Identity::sign(std::span<const std::uint8_t> message) const {
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

Result<TlsMaterial> Identity::tls_material(std::string_view common_name) const {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed_.data(), seed_.size()));
  if (!pkey) return make_error(Errc::crypto, "cannot load the node key into OpenSSL");
  X509Ptr cert(X509_new());
  if (!cert) return make_error(Errc::crypto, "X509_new failed");
  X509_set_version(cert.get(), 2);
  std::array<std::uint8_t, 16> serial{};
  randombytes_buf(serial.data(), serial.size());
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 100L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), pkey.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  std::string cn(common_name.empty() ? std::string_view("mesh-node") : common_name.substr(0, 64));
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), pkey.get(), nullptr) <= 0) {
    return make_error(Errc::crypto, "cannot sign the node certificate");
  }
  TlsMaterial out;
  BioPtr cbio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(cbio.get(), cert.get());
  out.cert_pem = bio_string(cbio.get());
  BioPtr kbio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(kbio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = bio_string(kbio.get());
  return out;
}

}  // namespace mesh::identity
