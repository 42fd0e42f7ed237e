// The node identity: an ed25519 key pair (libsodium) and the TLS certificate made from it.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "mesh/base/result.hpp"

namespace mesh::identity {

using Signature = std::array<std::uint8_t, 64>;

struct PublicKey {
  std::array<std::uint8_t, 32> bytes{};

  // "mesh:" + lowercase base32 of the key, the form users see and type.
  std::string id() const;
  // A short form for logs and tables: the first 12 characters after "mesh:".
  std::string short_id() const;
  // sha256//<base64> of the SubjectPublicKeyInfo, as curl and git's http.pinnedPubkey take it.
  std::string spki_pin() const;

  bool verify(std::span<const std::uint8_t> message, std::span<const std::uint8_t> sig) const;

  friend bool operator==(const PublicKey&, const PublicKey&) = default;
  friend auto operator<=>(const PublicKey&, const PublicKey&) = default;
};

// Parses "mesh:<base32>" (the "mesh:" prefix is optional).
Result<PublicKey> parse_id(std::string_view text);

// Extracts the Ed25519 key from a DER certificate; fails for any other key type.
Result<PublicKey> key_from_cert_der(std::span<const std::uint8_t> der);

// A PEM certificate and private key, ready for an OpenSSL context.
struct TlsMaterial {
  std::string cert_pem;
  std::string key_pem;
};

class Identity {
 public:
  // Loads <root>/keys/node.key, creating it (mode 0600) if it does not exist. Never replaces
  // an existing key; refuses a key file that is malformed or readable by others.
  static Result<Identity> load_or_create(const std::filesystem::path& root);
  static Result<Identity> load(const std::filesystem::path& root);
  // A fresh in-memory identity (tests, tools).
  static Identity generate();

  Identity(const Identity&) = delete;
  Identity& operator=(const Identity&) = delete;
  Identity(Identity&& other) noexcept;
  Identity& operator=(Identity&& other) noexcept;
  ~Identity();

  const PublicKey& public_key() const { return public_; }
  std::string id() const { return public_.id(); }

  Signature sign(std::span<const std::uint8_t> message) const;

  // A 32-byte secret for one purpose (e.g. "web-csrf"), derived from the private key: stable
  // for this key, different per purpose, and useless for recovering the key.
  std::array<std::uint8_t, 32> derive_secret(std::string_view purpose) const;

  // A self-signed Ed25519 X.509 certificate made from this very key: the certificate *is* the
  // identity. Valid from an hour ago for 100 years; the subject CN is the node name.
  Result<TlsMaterial> tls_material(std::string_view common_name) const;

  static std::filesystem::path key_path(const std::filesystem::path& root);

 private:
  Identity() = default;
  std::array<std::uint8_t, 32> seed_{};
  std::array<std::uint8_t, 64> secret_{};
  PublicKey public_;
};

}  // namespace mesh::identity
