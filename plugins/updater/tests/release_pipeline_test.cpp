// The whole chain this library offers the plugin, against a release directory written by
// tools/release/make-release.sh and served over HTTP on 127.0.0.1: metadata, asset selection,
// signature, download, verification, anti-rollback decision, extraction.
#include <gtest/gtest.h>

#include "archive.hpp"
#include "download.hpp"
#include "minisign.hpp"
#include "release.hpp"
#include "rollback.hpp"
#include "test_http_server.hpp"
#include "test_util.hpp"
#include "urls.hpp"

namespace mesh::updater {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::TarEntry;
using test::TempDir;

class ReleasePipeline : public ::testing::Test {
 protected:
  void SetUp() override { key_ = test::make_key(tmp_.path(), "release"); }

  // A small archive shaped like a real package.
  fs::path make_archive(const std::string& version, const std::string& marker = "") {
    std::string stem = "mesh-" + version + "-linux-" + std::string(build_arch());
    fs::path dir = tmp_ / ("build-" + version + marker);
    fs::create_directories(dir);
    fs::path p = dir / (stem + ".tar.gz");
    test::write_tar_gz(p, {{stem + "/", '5', 0755, "", "", -1},
                           {stem + "/bin/mesh", '0', 0755, "binary " + version + marker, "", -1},
                           {stem + "/lib/mesh/plugins/updater.json", '0', 0644, "{}", "", -1}});
    return p;
  }

  test::RunResult release(const std::string& version, const fs::path& archive,
                          std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        "bash",  MAKE_RELEASE_SCRIPT, "--version", version,          "--key", key_.sec.string(),
        "--pub", key_.pub.string(),   "--archive", archive.string(), "--out", out_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::run(argv);
  }

  DownloadOptions opts() {
    DownloadOptions o;
    o.stall_timeout = 5000ms;
    o.retry_delay = 0ms;
    return o;
  }

  CurlGlobal curl_;
  TempDir tmp_;
  fs::path out_ = tmp_ / "release-dir";
  test::TestKey key_;
};

TEST_F(ReleasePipeline, AServedReleaseDirectoryIsACompleteSource) {
  auto archive = make_archive("9.8.7");
  auto made = release("9.8.7", archive);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  test::TestHttpServer server(test::static_files(out_));
  std::string source = server.url("");

  // 1. Metadata, from the same endpoint GitHub has.
  DownloadResult meta_info;
  auto meta_opts = opts();
  meta_opts.max_bytes = MetadataLimits{}.max_bytes;
  auto meta = fetch_text(latest_release_url(source), meta_opts, &meta_info);
  ASSERT_TRUE(meta) << meta.error().message;
  auto rel = parse_release_json(*meta, meta_info.effective_url);
  ASSERT_TRUE(rel) << rel.error().message << "\n" << *meta;
  EXPECT_EQ(rel->tag, "v9.8.7");
  auto assets = select_platform_assets(*rel, build_arch());
  ASSERT_TRUE(assets) << assets.error().message;
  ASSERT_TRUE(assets->archive.sha256.has_value());

  // 2. Decide before downloading anything large.
  auto running = *parse_semver("9.8.0");
  auto decision = decide(rel->version, running, std::nullopt, false);
  ASSERT_TRUE(decision);
  EXPECT_EQ(*decision, Decision::upgrade);

  // 3. The signature first: a wrong key or another file's signature stops here.
  auto sig_opts = opts();
  sig_opts.max_bytes = kMaxSignatureText;
  auto sig_text = fetch_text(assets->signature.url, sig_opts);
  ASSERT_TRUE(sig_text) << sig_text.error().message;
  auto sig = parse_signature(*sig_text);
  ASSERT_TRUE(sig) << sig.error().message;
  auto key = parse_public_key(key_.pub_text);
  ASSERT_TRUE(key);
  ASSERT_TRUE(verify_signature_header(*key, *sig, assets->archive.name));

  // 4. The archive, bounded by the size the metadata gives.
  auto dl = opts();
  dl.expected_size = assets->archive.size;
  fs::path local = tmp_ / "downloads" / assets->archive.name;
  fs::create_directories(local.parent_path());
  auto got = download_file(assets->archive.url, local, dl);
  ASSERT_TRUE(got) << got.error().message;

  // 5. Verify and unpack from one open file.
  auto file = OpenFile::open_read(local);
  ASSERT_TRUE(file);
  Expectation expect{assets->archive.name, assets->archive.size, assets->archive.sha256};
  auto verified = verify_file(*file, *key, *sig, expect);
  ASSERT_TRUE(verified) << verified.error().message;
  fs::path target = tmp_ / "lib" / "mesh" / "versions" / rel->version.str();
  auto unpacked = extract_archive(*file, "mesh-9.8.7-linux-" + std::string(build_arch()), target);
  ASSERT_TRUE(unpacked) << unpacked.error().message;
  EXPECT_EQ(test::read_file(target / "bin" / "mesh"), "binary 9.8.7");
  ASSERT_TRUE(record_installed(tmp_ / "rollback.json", rel->version));
}

TEST_F(ReleasePipeline, LatestMovesForwardOnlyAndTagsAccumulate) {
  ASSERT_EQ(release("1.1.0", make_archive("1.1.0")).exit_code, 0);
  ASSERT_EQ(release("1.2.0", make_archive("1.2.0")).exit_code, 0);
  auto older = release("1.1.1", make_archive("1.1.1"));  // a patch for the old series
  ASSERT_EQ(older.exit_code, 0) << older.output;
  EXPECT_NE(older.output.find("stays at v1.2.0"), std::string::npos) << older.output;
  auto pre = release("1.3.0-rc.1", make_archive("1.3.0-rc.1"));
  ASSERT_EQ(pre.exit_code, 0) << pre.output;

  auto latest = parse_release_json(test::read_file(out_ / "releases/latest"),
                                   "http://127.0.0.1:1/releases/latest");
  ASSERT_TRUE(latest) << latest.error().message;
  EXPECT_EQ(latest->tag, "v1.2.0");
  for (const char* tag : {"v1.1.0", "v1.1.1", "v1.2.0", "v1.3.0-rc.1"}) {
    std::string doc_url = std::string("http://127.0.0.1:1/releases/tags/") + tag;
    auto r = parse_release_json(test::read_file(out_ / "releases/tags" / tag), doc_url);
    ASSERT_TRUE(r) << tag << ": " << r.error().message;
    auto a = select_platform_assets(*r, build_arch());
    ASSERT_TRUE(a) << tag << ": " << a.error().message;
    // Relative URLs from tags/<tag> land in download/<tag>/.
    EXPECT_EQ(a->archive.url,
              std::string("http://127.0.0.1:1/download/") + tag + "/" + a->archive.name);
    EXPECT_EQ(r->prerelease, std::string(tag).find('-') != std::string::npos);
  }
}

TEST_F(ReleasePipeline, AbsoluteUrlsWithABaseUrl) {
  auto made =
      release("2.0.0", make_archive("2.0.0"), {"--base-url", "https://dl.example.org/mesh/"});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto r = parse_release_json(test::read_file(out_ / "releases/latest"),
                              "https://api.example.org/releases/latest");
  ASSERT_TRUE(r);
  auto a = select_platform_assets(*r, build_arch());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->signature.url, "https://dl.example.org/mesh/download/v2.0.0/" + a->signature.name);
}

TEST_F(ReleasePipeline, TheScriptRefusesBadInputAndNeverReplacesAPublishedArchive) {
  auto a = make_archive("3.0.0");
  ASSERT_EQ(release("3.0.0", a).exit_code, 0);
  auto replaced = release("3.0.0", make_archive("3.0.0", "-rebuilt"));
  EXPECT_NE(replaced.exit_code, 0);
  EXPECT_NE(replaced.output.find("never replaced"), std::string::npos) << replaced.output;
  EXPECT_EQ(release("3.0.0", a).exit_code, 0);  // the same bytes again: fine (re-signs)

  auto wrong = release("3.0.1", a);
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.output.find("not version 3.0.1"), std::string::npos) << wrong.output;
  EXPECT_NE(release("v3.0.0", a).exit_code, 0);
  EXPECT_NE(release("3.0", a).exit_code, 0);

  std::string stem = "mesh-4.0.0-linux-" + std::string(build_arch());
  fs::path two_tops = tmp_ / (stem + ".tar.gz");
  test::write_tar_gz(two_tops, {{stem + "/bin/mesh", '0', 0755, "x", "", -1},
                                {"other/file", '0', 0644, "y", "", -1}});
  auto bad = release("4.0.0", two_tops);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("top-level"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(out_ / "releases/tags/v4.0.0"));

  auto other_key = test::make_key(tmp_.path(), "other");
  auto mismatched =
      test::run({"bash", MAKE_RELEASE_SCRIPT, "--version", "3.0.0", "--key", key_.sec.string(),
                 "--pub", other_key.pub.string(), "--archive", a.string(), "--out", out_.string()});
  EXPECT_NE(mismatched.exit_code, 0);
  EXPECT_NE(mismatched.output.find("does not verify"), std::string::npos) << mismatched.output;
}

TEST_F(ReleasePipeline, AMirrorServingAnOlderSignedReleaseUnderTheNewNameIsRefused) {
  ASSERT_EQ(release("5.0.0", make_archive("5.0.0")).exit_code, 0);
  ASSERT_EQ(release("5.1.0", make_archive("5.1.0")).exit_code, 0);
  std::string arch(build_arch());
  std::string old_name = "mesh-5.0.0-linux-" + arch + ".tar.gz";
  std::string new_name = "mesh-5.1.0-linux-" + arch + ".tar.gz";
  // The mirror swaps both files of 5.1.0 for the genuine 5.0.0 ones.
  fs::copy_file(out_ / "download/v5.0.0" / old_name, out_ / "download/v5.1.0" / new_name,
                fs::copy_options::overwrite_existing);
  fs::copy_file(out_ / "download/v5.0.0" / (old_name + ".minisig"),
                out_ / "download/v5.1.0" / (new_name + ".minisig"),
                fs::copy_options::overwrite_existing);
  auto key = parse_public_key(key_.pub_text);
  auto sig = parse_signature(test::read_file(out_ / "download/v5.1.0" / (new_name + ".minisig")));
  ASSERT_TRUE(key && sig);
  auto st = verify_signature_header(*key, *sig, new_name);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::wrong_file);
  EXPECT_NE(st.error().message.find(old_name), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace mesh::updater
