// libFuzzer target: the updater's minisign parsers (public keys, signature files, trusted
// comments), which read what a release source, a mirror or a peer serves. Beyond not
// crashing: whatever parses must hold the shape verification relies on; a violation traps.
#include <cstdint>
#include <string>
#include <string_view>

#include "minisign.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  using namespace mesh::updater;
  if (auto key = parse_public_key(in)) {
    check(size <= kMaxPublicKeyText);
    check(!key->id_hex().empty() && key->id_hex().size() <= 16);
  }
  if (auto sig = parse_signature(in)) {
    check(size <= kMaxSignatureText);
    // The trusted comment is one line: it can never smuggle a second "file:" line.
    check(sig->trusted_comment.find('\n') == std::string::npos);
    check(sig->trusted_comment.find('\r') == std::string::npos);
    auto fields = parse_trusted_comment(sig->trusted_comment);
    if (fields && fields->file) check(fields->file->find('\t') == std::string::npos);
    // A signature that parsed is refused by an all-zero key without crashing.
    PublicKey zero;
    zero.key_id = sig->key_id;
    check(!verify_signature_header(zero, *sig, "mesh-1.0.0-linux-x86_64.tar.gz"));
  }
  auto fields = parse_trusted_comment(in);
  if (fields && fields->file) check(fields->file->size() <= size);
  return 0;
}
