// minisign public keys and signatures (https://jedisct1.github.io/minisign/), verified with
// libsodium: no minisign binary is run. Two signature algorithms exist:
//   "Ed"  legacy: Ed25519 over the file itself;
//   "ED"  prehashed (minisign's default since 0.10): Ed25519 over BLAKE2b-512 of the file.
// Both carry a trusted comment, authenticated by a second ("global") signature over
// signature || trusted comment. minisign writes "timestamp:<n>\tfile:<name>" there, plus
// "\thashed" for prehashed signatures since 0.11.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "digest.hpp"
#include "errors.hpp"

namespace mesh::updater {

// Limits: a key file is two short lines; a signature file is at most about 9 KiB (minisign
// caps the trusted comment at 8 KiB).
constexpr std::size_t kMaxPublicKeyText = 4096;
constexpr std::size_t kMaxSignatureText = 16384;

using KeyId = std::array<unsigned char, 8>;

struct PublicKey {
  KeyId key_id{};
  std::array<unsigned char, 32> key{};
  // As minisign prints it: 16 upper-case hex digits of the little-endian id.
  std::string id_hex() const;
};

struct Signature {
  bool prehashed = true;  // "ED"; false for legacy "Ed"
  KeyId key_id{};
  std::array<unsigned char, 64> signature{};
  std::string untrusted_comment;  // without "untrusted comment: "; informative only
  std::string trusted_comment;    // without "trusted comment: "
  std::array<unsigned char, 64> global_signature{};
};

// The trusted comment's tab-separated fields that mesh relies on.
struct TrustedFields {
  std::optional<std::string> file;  // "file:<name>"
  std::optional<std::uint64_t> timestamp;
  bool hashed = false;  // "hashed" (minisign 0.11 marks prehashed signatures)
};

// A public key as the base64 line ("RW...") or as minisign writes the file (an
// "untrusted comment:" line, then the base64 line). Surrounding whitespace is ignored.
Result<PublicKey> parse_public_key(std::string_view text);

// A .minisig file: untrusted comment, signature, trusted comment, global signature.
Result<Signature> parse_signature(std::string_view text);

// Splits a trusted comment into its fields. A comment with two "file:" fields is refused.
Result<TrustedFields> parse_trusted_comment(std::string_view comment);

// What the caller knows about the file before looking at it.
struct Expectation {
  std::string file_name;              // the trusted comment must say exactly file:<this>
  std::optional<std::uint64_t> size;  // from the release metadata, when it gives one
  std::optional<Sha256> sha256;       // ditto ("digest": "sha256:...")
  std::uint64_t max_bytes = 512ull << 20;
};

struct VerifiedFile {
  std::string file_name;
  std::optional<std::uint64_t> timestamp;
  bool prehashed = true;
  FileDigest digest;
};

// Checks, cheapest first, and reads the file once: the key id; the global signature (which
// makes the trusted comment authentic); that the trusted comment names expect.file_name; then
// the file's size limit, the signature over its content, its size and sha256 against `expect`.
Result<VerifiedFile> verify_file(const OpenFile& file, const PublicKey& key, const Signature& sig,
                                 const Expectation& expect);

// The first two steps alone: a signature can be checked before its (large) file is fetched.
Status verify_signature_header(const PublicKey& key, const Signature& sig,
                               std::string_view expected_file_name);

}  // namespace mesh::updater
