#include "mesh/identity/identity.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <memory>

#include "mesh/base/encoding.hpp"
#include "mesh/base/files.hpp"
#include "x509_build.hpp"

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

using detail::PkeyPtr;
using detail::X509Ptr;

// Fixed so that the certificate is the same on every start (a user's git trusts these bytes,
// `mesh ssl`): the key alone determines it, with the node name as its CN. Ed25519 signatures
// are deterministic, so nothing else varies.
constexpr const char* kNotBefore = "20240101000000Z";
constexpr const char* kNotAfter = "99991231235959Z";  // RFC 5280: no well-defined expiration
constexpr std::string_view kSerialDomain = "mesh node certificate serial v1";

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

std::array<std::uint8_t, 32> Identity::derive_secret(std::string_view purpose) const {
  // Keyed BLAKE2b-256 with the seed as key over a domain prefix and the purpose: one-way, so a
  // derived secret reveals nothing about the key or about another purpose's secret.
  static constexpr std::string_view kDomain = "mesh derive-secret v1\n";
  crypto_generichash_state st;
  crypto_generichash_init(&st, seed_.data(), seed_.size(), 32);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(kDomain.data()),
                            kDomain.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(purpose.data()),
                            purpose.size());
  std::array<std::uint8_t, 32> out{};
  crypto_generichash_final(&st, out.data(), out.size());
  sodium_memzero(&st, sizeof st);
  return out;
}

Result<TlsMaterial> Identity::tls_material(std::string_view common_name) const {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed_.data(), seed_.size()));
  if (!pkey) return make_error(Errc::crypto, "cannot load the node key into OpenSSL");
  // The serial comes from the key: unique per node, identical across restarts.
  std::array<std::uint8_t, 32> digest{};
  crypto_generichash_state h;
  crypto_generichash_init(&h, nullptr, 0, digest.size());
  crypto_generichash_update(&h, reinterpret_cast<const unsigned char*>(kSerialDomain.data()),
                            kSerialDomain.size());
  crypto_generichash_update(&h, public_.bytes.data(), public_.bytes.size());
  crypto_generichash_final(&h, digest.data(), digest.size());
  std::array<std::uint8_t, 16> serial{};
  std::copy_n(digest.begin(), serial.size(), serial.begin());
  serial[0] = static_cast<std::uint8_t>((serial[0] & 0x7f) | 0x40);  // positive, 16 bytes long
  auto cert = detail::self_signed(
      pkey.get(), detail::CertSpec{serial, kNotBefore, kNotAfter, common_name, nullptr});
  if (!cert) return make_error(cert.error().code, "node certificate: " + cert.error().message);
  return TlsMaterial{detail::to_pem(cert->get()), detail::to_pem(pkey.get())};
}

}  // namespace mesh::identity
