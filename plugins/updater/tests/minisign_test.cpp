// Signatures made by the real minisign binary (0.11) with throwaway keys, checked by the
// library: both signature forms, and every way a signature can be wrong.
#include "minisign.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include "test_util.hpp"

namespace mesh::updater {
namespace {
namespace fs = std::filesystem;
using test::TempDir;

class Minisign : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = test::make_key(dir_.path(), "release");
    other_ = test::make_key(dir_.path(), "other");
    archive_ = dir_ / "mesh-1.2.3-linux-x86_64.tar.gz";
    content_ = test::random_bytes(300 * 1024 + 17);  // several read blocks, not aligned
    test::write_file(archive_, content_);
  }

  PublicKey pub(const test::TestKey& k) {
    auto p = parse_public_key(k.pub_text);
    EXPECT_TRUE(p) << p.error().message;
    return *p;
  }
  Signature sig_of(const std::string& text) {
    auto s = parse_signature(text);
    EXPECT_TRUE(s) << s.error().message;
    return *s;
  }
  Result<VerifiedFile> verify(const fs::path& file, const PublicKey& key, const Signature& sig,
                              Expectation expect) {
    auto f = OpenFile::open_read(file);
    EXPECT_TRUE(f);
    return verify_file(*f, key, sig, expect);
  }
  Expectation expect_archive() {
    Expectation e;
    e.file_name = archive_.filename().string();
    return e;
  }

  TempDir dir_;
  test::TestKey key_, other_;
  fs::path archive_;
  std::string content_;
};

TEST_F(Minisign, PublicKeyFileAndBareLineParseToTheSameKey) {
  auto from_file = parse_public_key(key_.pub_text);
  ASSERT_TRUE(from_file) << from_file.error().message;
  std::string line = key_.pub_text.substr(key_.pub_text.find('\n') + 1);
  auto from_line = parse_public_key(line);
  ASSERT_TRUE(from_line) << from_line.error().message;
  EXPECT_EQ(from_file->key, from_line->key);
  EXPECT_EQ(from_file->key_id, from_line->key_id);
  // minisign prints the key id in the untrusted comment: ours reads the same.
  EXPECT_NE(key_.pub_text.find(from_file->id_hex()), std::string::npos) << from_file->id_hex();
}

TEST(MinisignKeyId, PrintedAsMinisignPrintsItWithoutLeadingZeros) {
  // minisign formats the id with %PRIX64: a key whose id starts with a zero nibble (one key in
  // sixteen) shows 15 digits in its comment, and ours must match it.
  PublicKey k;
  k.key_id = {0xDD, 0xC4, 0xF1, 0xA3, 0x8D, 0xDC, 0xDA, 0x03};
  EXPECT_EQ(k.id_hex(), "3DADC8DA3F1C4DD");
  k.key_id = {0x01, 0, 0, 0, 0, 0, 0, 0x80};
  EXPECT_EQ(k.id_hex(), "8000000000000001");
  k.key_id = {};
  EXPECT_EQ(k.id_hex(), "0");
}

TEST_F(Minisign, MalformedPublicKeysAreRefused) {
  std::string line = key_.pub_text.substr(key_.pub_text.find('\n') + 1);
  for (const std::string& bad : std::vector<std::string>{
           std::string(""), std::string("RWQ"), line.substr(0, 20), "untrusted comment: x\n",
           "hello\n" + line, "untrusted comment: x\n" + line + "extra line\n",
           std::string("RUQ") + line.substr(3) /* not base64 of an Ed key */}) {
    auto k = parse_public_key(bad);
    EXPECT_FALSE(k) << "accepted: " << bad;
  }
  EXPECT_EQ(parse_public_key(std::string(kMaxPublicKeyText + 1, 'A')).error().code,
            Errc::too_large);
}

TEST_F(Minisign, PrehashedSignatureFromMinisignVerifies) {
  auto text = test::sign(key_, archive_);
  auto sig = sig_of(text);
  EXPECT_TRUE(sig.prehashed);
  auto fields = parse_trusted_comment(sig.trusted_comment);
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->file.value_or(""), archive_.filename().string());
  EXPECT_TRUE(fields->hashed);
  EXPECT_TRUE(fields->timestamp.has_value());
  auto e = expect_archive();
  e.size = content_.size();
  crypto_hash_sha256(e.sha256.emplace().data(),
                     reinterpret_cast<const unsigned char*>(content_.data()), content_.size());
  auto ok = verify(archive_, pub(key_), sig, e);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(ok->prehashed);
  EXPECT_EQ(ok->digest.size, content_.size());
  EXPECT_EQ(ok->digest.sha256, *e.sha256);
}

TEST_F(Minisign, LegacySignatureFromMinisignVerifies) {
  auto sig = sig_of(test::sign(key_, archive_, /*legacy=*/true));
  EXPECT_FALSE(sig.prehashed);
  auto fields = parse_trusted_comment(sig.trusted_comment);
  ASSERT_TRUE(fields);
  EXPECT_FALSE(fields->hashed);
  auto ok = verify(archive_, pub(key_), sig, expect_archive());
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_FALSE(ok->prehashed);
}

TEST_F(Minisign, ATamperedArchiveIsRefused) {
  for (bool legacy : {false, true}) {
    auto sig = sig_of(test::sign(key_, archive_, legacy));
    std::string tampered = content_;
    tampered[tampered.size() / 2] ^= 1;
    test::write_file(archive_, tampered);
    auto r = verify(archive_, pub(key_), sig, expect_archive());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::bad_signature) << r.error().message;
    // Truncated, as a dropped download would leave it.
    test::write_file(archive_, content_.substr(0, content_.size() - 1));
    r = verify(archive_, pub(key_), sig, expect_archive());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::bad_signature);
    test::write_file(archive_, content_);
    EXPECT_TRUE(verify(archive_, pub(key_), sig, expect_archive()));
  }
}

TEST_F(Minisign, ASignatureByAnotherKeyIsRefused) {
  auto sig = sig_of(test::sign(other_, archive_));
  auto r = verify(archive_, pub(key_), sig, expect_archive());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::wrong_key);
  EXPECT_NE(r.error().message.find(pub(key_).id_hex()), std::string::npos);
  // The same key id but another key: the signatures do not verify.
  sig.key_id = pub(key_).key_id;
  r = verify(archive_, pub(key_), sig, expect_archive());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::bad_signature);
}

TEST_F(Minisign, ASignatureOfAnotherFileIsRefused) {
  // A genuine signature of an older release, served next to the new archive's name.
  fs::path old = dir_ / "mesh-1.2.2-linux-x86_64.tar.gz";
  test::write_file(old, content_);  // even with the very same bytes
  auto sig = sig_of(test::sign(key_, old));
  auto r = verify(archive_, pub(key_), sig, expect_archive());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::wrong_file);
  EXPECT_NE(r.error().message.find("mesh-1.2.2-linux-x86_64.tar.gz"), std::string::npos);
  // And the old archive renamed to the new name does not help either.
  fs::copy_file(old, archive_, fs::copy_options::overwrite_existing);
  r = verify(archive_, pub(key_), sig, expect_archive());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::wrong_file);
}

TEST_F(Minisign, SwappedOrEditedSignatureLinesAreRefused) {
  fs::path other_file = dir_ / "other.bin";
  test::write_file(other_file, "other content");
  auto mine = sig_of(test::sign(key_, archive_));
  auto theirs = sig_of(test::sign(key_, other_file));
  // The signature line of another file with this file's trusted comment: the global
  // signature binds the two, so the swap shows.
  Signature swapped = mine;
  swapped.signature = theirs.signature;
  auto r = verify(archive_, pub(key_), swapped, expect_archive());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::bad_signature);
  // A trusted comment edited to name this file.
  Signature edited = theirs;
  edited.trusted_comment = "timestamp:1\tfile:" + archive_.filename().string() + "\thashed";
  r = verify(archive_, pub(key_), edited, expect_archive());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::bad_signature);
  // The algorithm byte flipped (prehashed read as legacy).
  Signature flipped = mine;
  flipped.prehashed = false;
  r = verify(archive_, pub(key_), flipped, expect_archive());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::bad_signature);
}

TEST_F(Minisign, ACustomTrustedCommentWithoutFileIsRefused) {
  fs::path sig_path = dir_ / "custom.minisig";
  auto res = test::run({MINISIGN_PROGRAM, "-S", "-s", key_.sec.string(), "-m", archive_.string(),
                        "-x", sig_path.string(), "-t", "release 1.2.3"});
  ASSERT_EQ(res.exit_code, 0) << res.output;
  auto r = verify(archive_, pub(key_), sig_of(test::read_file(sig_path)), expect_archive());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::wrong_file);
  EXPECT_NE(r.error().message.find("minisign -S"), std::string::npos);
}

TEST_F(Minisign, SizeAndSha256MustMatchTheMetadata) {
  auto sig = sig_of(test::sign(key_, archive_));
  auto e = expect_archive();
  e.size = content_.size() + 1;
  auto r = verify(archive_, pub(key_), sig, e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::mismatch);
  e.size = content_.size() - 1;
  r = verify(archive_, pub(key_), sig, e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::mismatch);
  e.size.reset();
  e.sha256.emplace();
  e.sha256->fill(0xab);
  r = verify(archive_, pub(key_), sig, e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::mismatch);
  // Over the configured limit: refused before the signature is even computed.
  e.sha256.reset();
  e.max_bytes = 1000;
  r = verify(archive_, pub(key_), sig, e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::too_large);
}

TEST_F(Minisign, MalformedSignatureFilesAreRefused) {
  auto text = test::sign(key_, archive_);
  auto lines = [&] {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
      auto nl = text.find('\n', pos);
      out.push_back(text.substr(pos, nl - pos));
      pos = nl == std::string::npos ? text.size() : nl + 1;
    }
    return out;
  }();
  ASSERT_EQ(lines.size(), 4u);
  auto join = [](std::vector<std::string> l) {
    std::string s;
    for (auto& x : l) s += x + "\n";
    return s;
  };
  std::vector<std::string> bad = {
      "",
      "garbage",
      join({lines[0], lines[1], lines[2]}),
      join({lines[1], lines[0], lines[2], lines[3]}),
      join({lines[0], lines[1].substr(0, 20), lines[2], lines[3]}),
      join({lines[0], lines[1], "comment: " + lines[2].substr(17), lines[3]}),
      join({lines[0], lines[1], lines[2], lines[3], "fifth"}),
      join({lines[0], "RWxx" + lines[1].substr(4), lines[2], lines[3]}),
      join({lines[0], lines[1], lines[2] + "\x01", lines[3]}),
  };
  for (const auto& b : bad) EXPECT_FALSE(parse_signature(b)) << "accepted:\n" << b;
  EXPECT_EQ(parse_signature(std::string(kMaxSignatureText + 1, 'x')).error().code, Errc::too_large);
  // CRLF line ends (a signature file that went through an editor on another system) still
  // verify: the trusted comment is signed without them.
  std::string crlf;
  for (auto& l : lines) crlf += l + "\r\n";
  auto sig = parse_signature(crlf);
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_TRUE(verify(archive_, pub(key_), *sig, expect_archive()));
}

TEST(TrustedComment, FieldsAreSplitOnTabs) {
  auto f =
      parse_trusted_comment("timestamp:1700000000\tfile:mesh-1.0.0-linux-x86_64.tar.gz\thashed");
  ASSERT_TRUE(f);
  EXPECT_EQ(*f->timestamp, 1700000000u);
  EXPECT_EQ(*f->file, "mesh-1.0.0-linux-x86_64.tar.gz");
  EXPECT_TRUE(f->hashed);
  auto g = parse_trusted_comment("timestamp:1\tfile:a");  // minisign before 0.11
  ASSERT_TRUE(g);
  EXPECT_FALSE(g->hashed);
  EXPECT_EQ(*g->file, "a");
  EXPECT_FALSE(parse_trusted_comment("file:a\tfile:b"));
  EXPECT_FALSE(parse_trusted_comment("release 1.0")->file);
}

}  // namespace
}  // namespace mesh::updater
