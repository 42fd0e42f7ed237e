// mesh/member_cert.hpp — which member a node certificate belongs to (header-only, C++17).
//
// The host's libgit2 TLS stream (docs/plugin-sdk.md, "git over https to members") reaches only
// current members, and hands libgit2 the server's leaf certificate as a git_cert_x509 (DER). A
// plugin that must reach one particular member checks it in its certificate_check callback:
//
//   int check(git_cert* cert, int, const char*, void* want) {
//     if (cert->cert_type != GIT_CERT_X509) return -1;
//     auto* x = reinterpret_cast<git_cert_x509*>(cert);
//     return mesh::sdk::certificate_member_id(x->data, x->len) ==
//            *static_cast<std::string*>(want) ? 0 : -1;
//   }
//
// The key is read from the certificate's SubjectPublicKeyInfo by walking the DER structure, not
// by searching for the key's byte pattern (a subject name could carry that pattern).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mesh::sdk {
namespace member_cert_detail {

struct Tlv {
  unsigned char tag = 0;
  std::size_t body = 0;  // offset of the contents
  std::size_t end = 0;   // offset just past them
};

// One DER element at `pos` inside [0, limit); false if malformed.
inline bool read_tlv(const unsigned char* d, std::size_t limit, std::size_t pos, Tlv* out) {
  if (pos + 2 > limit) return false;
  out->tag = d[pos];
  if ((out->tag & 0x1f) == 0x1f) return false;  // high tag numbers: not in a certificate
  std::size_t len = d[pos + 1];
  std::size_t at = pos + 2;
  if (len & 0x80) {
    const std::size_t bytes = len & 0x7f;
    if (bytes == 0 || bytes > 3 || at + bytes > limit) return false;
    len = 0;
    for (std::size_t i = 0; i < bytes; ++i) len = (len << 8) | d[at + i];
    at += bytes;
  }
  if (len > limit - at) return false;
  out->body = at;
  out->end = at + len;
  return true;
}

}  // namespace member_cert_detail

// "mesh:" + 52 base32 characters for the Ed25519 key of a DER certificate, or "" when the
// certificate is malformed or its key is not Ed25519.
inline std::string certificate_member_id(const void* der, std::size_t len) {
  using member_cert_detail::read_tlv;
  using member_cert_detail::Tlv;
  const auto* d = static_cast<const unsigned char*>(der);
  if (!d || len == 0 || len > 64 * 1024) return "";
  Tlv cert, tbs, e;
  if (!read_tlv(d, len, 0, &cert) || cert.tag != 0x30) return "";
  if (!read_tlv(d, cert.end, cert.body, &tbs) || tbs.tag != 0x30) return "";
  // tbsCertificate: [0] version (optional), serial, signature, issuer, validity, subject, SPKI.
  std::size_t pos = tbs.body;
  if (!read_tlv(d, tbs.end, pos, &e)) return "";
  if (e.tag == 0xa0) {
    pos = e.end;
    if (!read_tlv(d, tbs.end, pos, &e)) return "";
  }
  for (int skip = 0; skip < 5; ++skip) {  // serial .. subject
    pos = e.end;
    if (!read_tlv(d, tbs.end, pos, &e)) return "";
  }
  // SubjectPublicKeyInfo for Ed25519 (RFC 8410): 30 2a 30 05 06 03 2b 65 70 03 21 00 <key>.
  static const unsigned char kPrefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                          0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
  if (e.tag != 0x30 || e.body != pos + 2 || e.end - pos != sizeof kPrefix + 32) return "";
  for (std::size_t i = 0; i < sizeof kPrefix; ++i) {
    if (d[pos + i] != kPrefix[i]) return "";
  }
  const unsigned char* key = d + pos + sizeof kPrefix;
  static const char kB32[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string id = "mesh:";
  std::uint32_t acc = 0;
  int bits = 0;
  for (int i = 0; i < 32; ++i) {
    acc = (acc << 8) | key[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      id += kB32[(acc >> bits) & 31];
    }
  }
  if (bits > 0) id += kB32[(acc << (5 - bits)) & 31];
  return id;
}

}  // namespace mesh::sdk
