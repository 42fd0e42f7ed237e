#include "minisign.hpp"

#include <sodium.h>

#include <charconv>
#include <cstring>
#include <vector>

namespace mesh::updater {
namespace {

constexpr std::string_view kUntrusted = "untrusted comment: ";
constexpr std::string_view kTrusted = "trusted comment: ";

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Lines without their "\n" or "\r\n". Bytes are kept exactly otherwise: the trusted comment
// is signed as written.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// Strict base64 (standard alphabet, padded) decoding to exactly `want` bytes.
bool decode_base64(std::string_view b64, unsigned char* out, std::size_t want) {
  std::vector<unsigned char> buf(want + 3);
  std::size_t got = 0;
  const char* end = nullptr;
  if (sodium_base642bin(buf.data(), buf.size(), b64.data(), b64.size(), nullptr, &got, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  if (end != b64.data() + b64.size() || got != want) return false;
  std::memcpy(out, buf.data(), want);
  return true;
}

bool has_control_bytes(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 && c != '\t') return true;
    if (c == 0x7f) return true;
  }
  return false;
}

// As minisign prints it (`%PRIX64` of the little-endian id): uppercase, no leading zeros, so
// the id in our messages is the one in the key file's comment and in `minisign -G`'s output.
std::string key_id_hex(const KeyId& id) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string s;
  for (int i = 7; i >= 0; --i) {
    s += digits[id[i] >> 4];
    s += digits[id[i] & 15];
  }
  auto first = s.find_first_not_of('0');
  return first == std::string::npos ? std::string("0") : s.substr(first);
}

Status check_global(const PublicKey& key, const Signature& sig) {
  std::vector<unsigned char> msg(sig.signature.begin(), sig.signature.end());
  msg.insert(msg.end(), sig.trusted_comment.begin(), sig.trusted_comment.end());
  if (crypto_sign_verify_detached(sig.global_signature.data(), msg.data(), msg.size(),
                                  key.key.data()) != 0) {
    return make_error(Errc::bad_signature,
                      "the signature's trusted comment does not verify with the release key "
                      "(the signature file was altered)");
  }
  return {};
}

}  // namespace

std::string PublicKey::id_hex() const {
  return key_id_hex(key_id);
}

Result<PublicKey> parse_public_key(std::string_view text) {
  if (text.size() > kMaxPublicKeyText) {
    return make_error(Errc::too_large, "a minisign public key is at most " +
                                           std::to_string(kMaxPublicKeyText) + " bytes");
  }
  auto lines = split_lines(trim(text));
  std::string_view b64;
  if (lines.size() == 1) {
    b64 = trim(lines[0]);
  } else if (lines.size() == 2 && lines[0].starts_with(kUntrusted.substr(0, 17))) {
    b64 = trim(lines[1]);
  } else {
    return make_error(Errc::invalid,
                      "a minisign public key is one base64 line (\"RW...\"), optionally after "
                      "an \"untrusted comment:\" line");
  }
  unsigned char raw[2 + 8 + 32];
  if (!decode_base64(b64, raw, sizeof raw)) {
    return make_error(Errc::invalid, "the minisign public key is not 42 bytes of base64");
  }
  if (raw[0] != 'E' || raw[1] != 'd') {
    return make_error(Errc::invalid, "the public key's algorithm is not Ed25519 (\"Ed\")");
  }
  PublicKey key;
  std::memcpy(key.key_id.data(), raw + 2, 8);
  std::memcpy(key.key.data(), raw + 10, 32);
  return key;
}

Result<Signature> parse_signature(std::string_view text) {
  if (text.size() > kMaxSignatureText) {
    return make_error(Errc::too_large, "a minisign signature file is at most " +
                                           std::to_string(kMaxSignatureText) + " bytes");
  }
  auto lines = split_lines(text);
  while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();
  if (lines.size() != 4 || !lines[0].starts_with(kUntrusted) || !lines[2].starts_with(kTrusted)) {
    return make_error(Errc::invalid,
                      "not a minisign signature: expected an untrusted comment, a signature, "
                      "a trusted comment and a global signature, one per line");
  }
  Signature sig;
  sig.untrusted_comment = std::string(lines[0].substr(kUntrusted.size()));
  sig.trusted_comment = std::string(lines[2].substr(kTrusted.size()));
  if (has_control_bytes(sig.trusted_comment)) {
    return make_error(Errc::invalid, "the trusted comment holds control characters");
  }
  unsigned char raw[2 + 8 + 64];
  if (!decode_base64(trim(lines[1]), raw, sizeof raw)) {
    return make_error(Errc::invalid, "the signature line is not 74 bytes of base64");
  }
  if (raw[0] == 'E' && raw[1] == 'D') {
    sig.prehashed = true;
  } else if (raw[0] == 'E' && raw[1] == 'd') {
    sig.prehashed = false;
  } else {
    return make_error(Errc::invalid, "unknown signature algorithm (neither \"ED\" nor \"Ed\")");
  }
  std::memcpy(sig.key_id.data(), raw + 2, 8);
  std::memcpy(sig.signature.data(), raw + 10, 64);
  if (!decode_base64(trim(lines[3]), sig.global_signature.data(), 64)) {
    return make_error(Errc::invalid, "the global signature line is not 64 bytes of base64");
  }
  return sig;
}

Result<TrustedFields> parse_trusted_comment(std::string_view comment) {
  TrustedFields out;
  while (true) {
    auto tab = comment.find('\t');
    std::string_view field = comment.substr(0, tab);
    if (field.starts_with("file:")) {
      if (out.file) return make_error(Errc::invalid, "the trusted comment names two files");
      out.file = std::string(field.substr(5));
    } else if (field.starts_with("timestamp:")) {
      std::string_view n = field.substr(10);
      std::uint64_t ts = 0;
      auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), ts);
      if (ec == std::errc() && p == n.data() + n.size() && !n.empty()) out.timestamp = ts;
    } else if (field == "hashed") {
      out.hashed = true;
    }
    if (tab == std::string_view::npos) break;
    comment.remove_prefix(tab + 1);
  }
  return out;
}

Status verify_signature_header(const PublicKey& key, const Signature& sig,
                               std::string_view expected_file_name) {
  if (sodium_init() < 0) return make_error(Errc::io, "libsodium failed to initialise");
  if (sig.key_id != key.key_id) {
    return make_error(Errc::wrong_key, "signed with key " + key_id_hex(sig.key_id) +
                                           ", not with the release key " + key.id_hex());
  }
  if (auto st = check_global(key, sig); !st) return st;
  auto fields = parse_trusted_comment(sig.trusted_comment);
  if (!fields) return fields.error();
  if (!fields->file) {
    return make_error(Errc::wrong_file,
                      "the signature's trusted comment names no file (\"" + sig.trusted_comment +
                          "\"): sign releases with plain `minisign -S`, without -t");
  }
  if (*fields->file != expected_file_name) {
    return make_error(Errc::wrong_file, "the signature is for '" + *fields->file + "', not for '" +
                                            std::string(expected_file_name) + "'");
  }
  return {};
}

Result<VerifiedFile> verify_file(const OpenFile& file, const PublicKey& key, const Signature& sig,
                                 const Expectation& expect) {
  if (auto st = verify_signature_header(key, sig, expect.file_name); !st) return st.error();
  std::uint64_t limit = expect.max_bytes;
  if (expect.size && *expect.size < limit) limit = *expect.size;
  std::string content;
  auto digest = digest_file(file, limit, sig.prehashed ? nullptr : &content);
  if (!digest) {
    if (digest.error().code == Errc::too_large && expect.size && *expect.size <= expect.max_bytes) {
      return make_error(Errc::mismatch, "the file is larger than the " +
                                            std::to_string(*expect.size) +
                                            " bytes the release metadata gives");
    }
    return digest.error();
  }
  int rc = sig.prehashed
               ? crypto_sign_verify_detached(sig.signature.data(), digest->blake2b.data(),
                                             digest->blake2b.size(), key.key.data())
               : crypto_sign_verify_detached(sig.signature.data(),
                                             reinterpret_cast<const unsigned char*>(content.data()),
                                             content.size(), key.key.data());
  if (rc != 0) {
    return make_error(Errc::bad_signature, "the signature of '" + expect.file_name +
                                               "' does not verify: the file is not the one "
                                               "that was signed (altered or truncated)");
  }
  if (expect.size && digest->size != *expect.size) {
    return make_error(Errc::mismatch,
                      "'" + expect.file_name + "' is " + std::to_string(digest->size) +
                          " bytes, the release metadata says " + std::to_string(*expect.size));
  }
  if (expect.sha256 && digest->sha256 != *expect.sha256) {
    return make_error(Errc::mismatch, "the sha256 of '" + expect.file_name + "' is " +
                                          to_hex(digest->sha256) + ", the release metadata says " +
                                          to_hex(*expect.sha256));
  }
  auto fields = parse_trusted_comment(sig.trusted_comment);
  VerifiedFile out;
  out.file_name = expect.file_name;
  out.timestamp = fields ? fields->timestamp : std::nullopt;
  out.prehashed = sig.prehashed;
  out.digest = *digest;
  return out;
}

}  // namespace mesh::updater
