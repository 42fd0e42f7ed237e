// prepare_update (prepare.hpp): the decision, the signature before the download, verification
// before extraction, and nothing left behind on a refusal. The source is an in-memory one; the
// signatures are real (the minisign binary with a throwaway key).
#include <gtest/gtest.h>

#include "prepare.hpp"
#include "release.hpp"
#include "test_util.hpp"

namespace mesh::updater {
namespace {
namespace fs = std::filesystem;

class FakeSource final : public ReleaseSource {
 public:
  Candidate offer;
  std::string sig_text;
  fs::path archive;  // copied on download
  int downloads = 0;
  std::string describe() const override { return "fake"; }
  Result<Candidate> candidate(const std::optional<std::string>& tag) override {
    if (tag && *tag != "v" + offer.version.str()) return make_error(Errc::not_found, "no " + *tag);
    return offer;
  }
  Result<std::string> signature(const Candidate&) override { return sig_text; }
  Status download(const Candidate&, const fs::path& dest, const Progress& p) override {
    ++downloads;
    fs::copy_file(archive, dest);
    if (p) p(fs::file_size(dest), fs::file_size(dest));
    return {};
  }
};

class Prepare : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = test::make_key(tmp_.path(), "release");
    other_ = test::make_key(tmp_.path(), "other");
    prefix_ = tmp_ / "prefix";
    fs::create_directories(prefix_ / "lib/mesh/versions/1.0.0/bin");
    test::write_file(prefix_ / "lib/mesh/versions/1.0.0/bin/mesh", "old");
    fs::create_symlink("versions/1.0.0", prefix_ / "lib/mesh/current");
    auto in = locate_install(prefix_ / "lib/mesh/versions/1.0.0/bin/mesh", "/nonexistent");
    ASSERT_TRUE(in) << in.error().message;
    install_ = *in;
    ctx_.key = parse_public_key(key_.pub_text).value();
    ctx_.running = parse_semver("1.0.0").value();
    ctx_.work_dir = tmp_ / "data/tmp";
    ctx_.store = &store_;
    ctx_.install = &install_;
  }

  // Offers `version`, an archive with `entries` under the right top directory, signed by `k`.
  void offer(const std::string& version, const test::TestKey& k, bool with_binary = true) {
    std::string stem = "mesh-" + version + "-linux-" + std::string(build_arch());
    fs::path dir = tmp_ / ("dl-" + version);
    fs::create_directories(dir);
    fs::path a = dir / (stem + ".tar.gz");
    std::vector<test::TarEntry> entries{{stem + "/", '5', 0755, "", "", -1}};
    if (with_binary) entries.push_back({stem + "/bin/mesh", '0', 0755, "new " + version, "", -1});
    entries.push_back({stem + "/share/mesh/mesh.toml", '0', 0644, "#", "", -1});
    test::write_tar_gz(a, entries);
    src_.offer.version = parse_semver(version).value();
    src_.offer.archive_name = stem + ".tar.gz";
    src_.offer.size = fs::file_size(a);
    src_.archive = a;
    src_.sig_text = test::sign(k, a);
  }

  std::vector<std::string> version_dirs() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(prefix_ / "lib/mesh/versions"))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  void expect_nothing_left() const {
    EXPECT_EQ(version_dirs(), std::vector<std::string>{"1.0.0"});
    EXPECT_TRUE(store_.list().empty());
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(ctx_.work_dir, ec))
      ADD_FAILURE() << "left behind: " << e.path();
  }

  test::TempDir tmp_;
  test::TestKey key_, other_;
  fs::path prefix_;
  Install install_;
  ArchiveStore store_{tmp_ / "data/archives"};
  PrepareContext ctx_;
  FakeSource src_;
};

TEST_F(Prepare, ANewerSignedReleaseIsVerifiedExtractedAndKept) {
  offer("1.1.0", key_);
  std::uint64_t seen = 0;
  ctx_.progress_for = [&](const Candidate& c) -> Progress {
    EXPECT_EQ(c.archive_name, src_.offer.archive_name);
    return [&](std::uint64_t d, std::optional<std::uint64_t>) { seen = d; };
  };
  auto p = prepare_update(src_, ctx_, {});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_FALSE(p->up_to_date);
  EXPECT_TRUE(p->signed_ok);
  EXPECT_EQ(p->tree, prefix_ / "lib/mesh/versions/1.1.0");
  EXPECT_EQ(test::read_file(p->tree / "bin/mesh"), "new 1.1.0");
  EXPECT_EQ(seen, *src_.offer.size);
  auto held = store_.list();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].name, src_.offer.archive_name);
  EXPECT_EQ(test::read_file(store_.dir() / (held[0].name + ".minisig")), src_.sig_text);
  EXPECT_EQ(held[0].sha256_hex.size(), 64u);
}

TEST_F(Prepare, CheckOnlyVerifiesTheSignatureWithoutDownloading) {
  offer("1.1.0", key_);
  PrepareRequest req;
  req.check_only = true;
  auto p = prepare_update(src_, ctx_, req);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->signed_ok);
  EXPECT_EQ(src_.downloads, 0);
  expect_nothing_left();
  // Without a key it says what is published and why it is not verified.
  ctx_.key.reset();
  p = prepare_update(src_, ctx_, req);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->signed_ok);
  EXPECT_NE(p->note.find("release_key"), std::string::npos);
  EXPECT_FALSE(prepare_update(src_, ctx_, {}));
}

TEST_F(Prepare, UpToDateOlderAndForced) {
  offer("1.0.0", key_);
  auto same = prepare_update(src_, ctx_, {});
  ASSERT_TRUE(same);
  EXPECT_TRUE(same->up_to_date);
  offer("0.9.0", key_);
  auto older = prepare_update(src_, ctx_, {});
  ASSERT_FALSE(older);
  EXPECT_EQ(older.error().code, Errc::rollback);
  PrepareRequest check;
  check.check_only = true;
  EXPECT_TRUE(prepare_update(src_, ctx_, check)->older);
  expect_nothing_left();
  // The mark counts even when the running version is lower (after a forced downgrade).
  offer("1.1.0", key_);
  ctx_.highest = parse_semver("1.2.0").value();
  EXPECT_EQ(prepare_update(src_, ctx_, {}).error().code, Errc::rollback);
  PrepareRequest force;
  force.force = true;
  ASSERT_TRUE(prepare_update(src_, ctx_, force));
  EXPECT_TRUE(fs::exists(prefix_ / "lib/mesh/versions/1.1.0/bin/mesh"));
}

TEST_F(Prepare, BadSignaturesAreRefusedBeforeTheDownload) {
  offer("1.1.0", other_);
  auto p = prepare_update(src_, ctx_, {});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Errc::wrong_key);
  // A genuine signature of another file (an older release).
  offer("1.0.5", key_);
  std::string old_sig = src_.sig_text;
  offer("1.1.0", key_);
  src_.sig_text = old_sig;
  p = prepare_update(src_, ctx_, {});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Errc::wrong_file);
  EXPECT_EQ(src_.downloads, 0);
  expect_nothing_left();
}

TEST_F(Prepare, AnArchiveThatFailsVerificationLeavesNothing) {
  offer("1.1.0", key_);
  std::string bytes = test::read_file(src_.archive);
  bytes[bytes.size() / 3] ^= 0x20;
  test::write_file(src_.archive, bytes);
  auto p = prepare_update(src_, ctx_, {});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Errc::bad_signature);
  expect_nothing_left();
  // Signed, but not a mesh release.
  offer("1.1.0", key_, false);
  p = prepare_update(src_, ctx_, {});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Errc::unsafe_archive);
  expect_nothing_left();
}

TEST_F(Prepare, ALeftoverTreeOfAFailedAttemptIsReplaced) {
  fs::create_directories(prefix_ / "lib/mesh/versions/1.1.0/bin");
  test::write_file(prefix_ / "lib/mesh/versions/1.1.0/bin/mesh", "stale");
  offer("1.1.0", key_);
  ASSERT_TRUE(prepare_update(src_, ctx_, {}));
  EXPECT_EQ(test::read_file(prefix_ / "lib/mesh/versions/1.1.0/bin/mesh"), "new 1.1.0");
}

}  // namespace
}  // namespace mesh::updater
