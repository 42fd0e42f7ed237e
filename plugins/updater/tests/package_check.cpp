// Verifies and unpacks a real package with the updater's own code, as `mesh update` will:
//   updater_package_check ARCHIVE PUBLIC_KEY TARGET_DIR
// ARCHIVE.minisig must sit beside ARCHIVE. Used by tools/release/check-package.sh on what
// cpack made, so packaging and the updater cannot drift apart.
#include <iostream>

#include "archive.hpp"
#include "fsutil.hpp"
#include "minisign.hpp"
#include "release.hpp"

int main(int argc, char** argv) {
  using namespace mesh::updater;
  if (argc != 4) {
    std::cerr << "usage: updater_package_check ARCHIVE PUBLIC_KEY TARGET_DIR\n";
    return 2;
  }
  std::filesystem::path archive = argv[1];
  std::string name = archive.filename().string();
  auto fail = [](const std::string& what, const Error& e) {
    std::cerr << what << ": " << errc_name(e.code) << ": " << e.message << "\n";
    return 1;
  };
  auto version = version_from_archive_name(name, build_arch());
  if (!version)
    return fail(name, make_error(Errc::invalid, "not a package name for this platform"));
  auto key_text = read_small_file(argv[2], kMaxPublicKeyText);
  if (!key_text) return fail(argv[2], key_text.error());
  auto key = parse_public_key(*key_text);
  if (!key) return fail(argv[2], key.error());
  auto sig_text = read_small_file(archive.string() + ".minisig", kMaxSignatureText);
  if (!sig_text) return fail("signature", sig_text.error());
  auto sig = parse_signature(*sig_text);
  if (!sig) return fail("signature", sig.error());
  auto file = OpenFile::open_read(archive);
  if (!file) return fail(name, file.error());
  auto verified = verify_file(*file, *key, *sig, Expectation{name, {}, {}});
  if (!verified) return fail("verify", verified.error());
  std::string top = name.substr(0, name.size() - std::string(".tar.gz").size());
  auto unpacked = extract_archive(*file, top, argv[3]);
  if (!unpacked) return fail("extract", unpacked.error());
  std::cout << name << ": signature ok (" << (verified->prehashed ? "prehashed" : "legacy")
            << "), version " << version->str() << ", " << unpacked->entries << " entries, "
            << unpacked->total_bytes << " bytes unpacked\n";
  return 0;
}
