#include "release.hpp"

#include <gtest/gtest.h>

#include "urls.hpp"

namespace mesh::updater {
namespace {

constexpr const char* kApi = "https://api.github.com/repos/acme/mesh/releases/latest";

// Trimmed from a real GitHub response (fields mesh does not read included, as GitHub sends).
std::string github_release(const std::string& tag = "v1.2.3", const std::string& extra = "") {
  std::string v = tag.substr(1);
  std::string base = "https://github.com/acme/mesh/releases/download/" + tag + "/";
  return R"({
  "url": "https://api.github.com/repos/acme/mesh/releases/1",
  "id": 1, "node_id": "RE_x", "tag_name": ")" +
         tag + R"(", "target_commitish": "main",
  "name": "mesh )" +
         v + R"(", "draft": false, "prerelease": false,
  "created_at": "2025-01-01T00:00:00Z", "published_at": "2025-01-01T00:00:00Z",
  "author": {"login": "maintainer", "id": 7},
  "assets": [
    {"url": "https://api.github.com/repos/acme/mesh/releases/assets/10", "id": 10,
     "name": "mesh-)" +
         v + R"(-linux-x86_64.tar.gz", "label": null,
     "content_type": "application/gzip", "state": "uploaded", "size": 12345678,
     "digest": "sha256:)" +
         std::string(64, 'a') + R"(", "download_count": 3,
     "browser_download_url": ")" +
         base + "mesh-" + v + R"(-linux-x86_64.tar.gz"},
    {"name": "mesh-)" +
         v + R"(-linux-x86_64.tar.gz.minisig", "size": 340, "digest": null,
     "browser_download_url": ")" +
         base + "mesh-" + v + R"(-linux-x86_64.tar.gz.minisig"},
    {"name": "mesh-)" +
         v + R"(-linux-aarch64.tar.gz", "size": 11000000,
     "browser_download_url": ")" +
         base + "mesh-" + v + R"(-linux-aarch64.tar.gz"},
    {"name": "mesh_)" +
         v + R"(_amd64.deb", "size": 9000000,
     "browser_download_url": ")" +
         base + "mesh_" + v + R"(_amd64.deb"})" + extra + R"(
  ],
  "tarball_url": "https://api.github.com/repos/acme/mesh/tarball/)" +
         tag + R"(",
  "body": "Release notes"
})";
}

TEST(Release, ParsesGitHubsShape) {
  auto r = parse_release_json(github_release(), kApi);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->tag, "v1.2.3");
  EXPECT_EQ(r->name, "mesh 1.2.3");
  EXPECT_EQ(r->version.str(), "1.2.3");
  EXPECT_FALSE(r->prerelease);
  ASSERT_EQ(r->assets.size(), 4u);
  EXPECT_EQ(r->assets[0].size, 12345678u);
  ASSERT_TRUE(r->assets[0].sha256);
  EXPECT_EQ((*r->assets[0].sha256)[0], 0xaa);
  EXPECT_FALSE(r->assets[1].sha256);
}

TEST(Release, SelectsThisPlatformsArchiveAndSignature) {
  auto r = parse_release_json(github_release(), kApi);
  ASSERT_TRUE(r);
  auto x86 = select_platform_assets(*r, "x86_64");
  ASSERT_TRUE(x86) << x86.error().message;
  EXPECT_EQ(x86->archive.name, "mesh-1.2.3-linux-x86_64.tar.gz");
  EXPECT_EQ(x86->signature.name, "mesh-1.2.3-linux-x86_64.tar.gz.minisig");
  EXPECT_EQ(x86->archive.url,
            "https://github.com/acme/mesh/releases/download/v1.2.3/mesh-1.2.3-linux-x86_64.tar.gz");
  auto arm = select_platform_assets(*r, "aarch64");
  ASSERT_FALSE(arm);  // an archive but no signature: not installable
  EXPECT_EQ(arm.error().code, Errc::not_found);
  EXPECT_NE(arm.error().message.find(".minisig"), std::string::npos);
  auto riscv = select_platform_assets(*r, "riscv64");
  ASSERT_FALSE(riscv);
  EXPECT_EQ(riscv.error().code, Errc::not_found);
  EXPECT_NE(riscv.error().message.find("mesh-1.2.3-linux-riscv64.tar.gz"), std::string::npos);
  EXPECT_FALSE(build_arch().empty());
}

TEST(Release, AReleaseOfferingAnotherVersionsArchiveHasNoAssetForUs) {
  // Tag v2.0.0 with the 1.2.3 files: the name carries the version, so nothing matches.
  std::string doc = github_release();
  auto pos = doc.find("\"tag_name\": \"v1.2.3\"");
  doc.replace(pos, 20, "\"tag_name\": \"v2.0.0\"");
  auto r = parse_release_json(doc, kApi);
  ASSERT_TRUE(r);
  auto a = select_platform_assets(*r, "x86_64");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, Errc::not_found);
}

TEST(Release, RelativeUrlsResolveAgainstTheDocument) {
  std::string doc = R"({"tag_name": "v0.3.0", "assets": [
    {"name": "mesh-0.3.0-linux-x86_64.tar.gz", "size": 10,
     "browser_download_url": "../download/v0.3.0/mesh-0.3.0-linux-x86_64.tar.gz"},
    {"name": "mesh-0.3.0-linux-x86_64.tar.gz.minisig", "size": 10,
     "browser_download_url": "/mirror/download/v0.3.0/mesh-0.3.0-linux-x86_64.tar.gz.minisig"}]})";
  auto r = parse_release_json(doc, "http://127.0.0.1:8080/mirror/releases/latest");
  ASSERT_TRUE(r) << r.error().message;
  auto a = select_platform_assets(*r, "x86_64");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->archive.url,
            "http://127.0.0.1:8080/mirror/download/v0.3.0/mesh-0.3.0-linux-x86_64.tar.gz");
  EXPECT_EQ(a->signature.url,
            "http://127.0.0.1:8080/mirror/download/v0.3.0/mesh-0.3.0-linux-x86_64.tar.gz.minisig");
}

TEST(Release, PolicyRefusedUrlsMakeTheAssetUnusable) {
  std::string doc = R"({"tag_name": "v0.3.0", "assets": [
    {"name": "mesh-0.3.0-linux-x86_64.tar.gz", "size": 10,
     "browser_download_url": "http://evil.example/mesh-0.3.0-linux-x86_64.tar.gz"},
    {"name": "mesh-0.3.0-linux-x86_64.tar.gz.minisig", "size": 10,
     "browser_download_url": "file:///etc/passwd"}]})";
  auto r = parse_release_json(doc, kApi);
  ASSERT_TRUE(r) << r.error().message;
  auto a = select_platform_assets(*r, "x86_64");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, Errc::invalid);
  EXPECT_NE(a.error().message.find("https"), std::string::npos) << a.error().message;
}

TEST(Release, LimitsAndBadShapesGiveClearErrors) {
  MetadataLimits small;
  small.max_bytes = 100;
  auto big = parse_release_json(github_release(), kApi, small);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::too_large);

  MetadataLimits few;
  few.max_assets = 3;
  auto many = parse_release_json(github_release(), kApi, few);
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error().code, Errc::too_large);

  MetadataLimits tight;
  tight.max_archive_bytes = 1000;
  auto r = parse_release_json(github_release(), kApi);
  ASSERT_TRUE(r);
  auto huge = select_platform_assets(*r, "x86_64", tight);
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, Errc::too_large);

  std::string deep(100, '[');
  for (const std::string& bad :
       {std::string("not json"), std::string("[]"), std::string("{}"), deep,
        std::string(R"({"tag_name": 5, "assets": []})"),
        std::string(R"({"tag_name": "latest", "assets": []})"),
        std::string(R"({"tag_name": "v1.0.0"})"),
        std::string(R"({"tag_name": "v1.0.0", "assets": [{"name": "a", "size": -1,
                        "browser_download_url": "https://x/a"}]})"),
        std::string(R"({"tag_name": "v1.0.0", "assets": [{"name": "a", "size": 1}]})"),
        std::string(R"({"tag_name": "v1.0.0", "assets": [{"name": "a\nb", "size": 1,
                        "browser_download_url": "https://x/a"}]})"),
        std::string(R"({"tag_name": "v1.0.0", "assets": [{"name": "a", "size": 1,
                        "browser_download_url": "https://x/a", "digest": "sha256:zz"}]})")}) {
    auto p = parse_release_json(bad, kApi);
    ASSERT_FALSE(p) << "accepted: " << bad;
    EXPECT_TRUE(p.error().code == Errc::invalid) << p.error().message;
  }
  auto draft = parse_release_json(R"({"tag_name": "v1.0.0", "draft": true, "assets": []})", kApi);
  ASSERT_FALSE(draft);
  EXPECT_EQ(draft.error().code, Errc::not_found);
}

TEST(Release, PreReleasesAreMarked) {
  auto r = parse_release_json(R"({"tag_name": "v1.3.0-rc.1", "assets": []})", kApi);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->prerelease);
  auto s = parse_release_json(R"({"tag_name": "v1.3.0", "prerelease": true, "assets": []})", kApi);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->prerelease);
}

TEST(ArchiveName, CarriesTheVersion) {
  auto v = parse_semver("1.3.0-rc.1");
  ASSERT_TRUE(v);
  EXPECT_EQ(archive_name(*v, "x86_64"), "mesh-1.3.0-rc.1-linux-x86_64.tar.gz");
  auto back = version_from_archive_name("mesh-1.3.0-rc.1-linux-x86_64.tar.gz", "x86_64");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->str(), "1.3.0-rc.1");
  EXPECT_FALSE(version_from_archive_name("mesh-1.3.0-linux-aarch64.tar.gz", "x86_64"));
  EXPECT_FALSE(version_from_archive_name("mesh-v1.3.0-linux-x86_64.tar.gz", "x86_64"));
  EXPECT_FALSE(version_from_archive_name("other-1.3.0-linux-x86_64.tar.gz", "x86_64"));
}

TEST(Urls, PolicyAllowsHttpsAndLoopbackHttpOnly) {
  EXPECT_TRUE(check_url("https://api.github.com/repos/a/b"));
  EXPECT_TRUE(check_url("http://127.0.0.1:8080/releases/latest"));
  EXPECT_TRUE(check_url("http://localhost/x"));
  EXPECT_TRUE(check_url("http://[::1]:9/x"));
  for (const char* bad :
       {"http://example.com/x", "http://127.0.0.1.evil.com/x", "http://10.0.0.1/x",
        "ftp://127.0.0.1/x", "file:///etc/passwd", "https://user:pw@example.com/x", "relative/path",
        "https://", "javascript:alert(1)"}) {
    EXPECT_FALSE(check_url(bad)) << bad;
  }
  EXPECT_FALSE(check_url("https://x/" + std::string(kMaxUrlLength, 'a')));
  auto r = resolve_url("https://api.github.com/repos/a/b/releases/latest", "http://evil.com/x");
  EXPECT_FALSE(r);
  EXPECT_EQ(latest_release_url("https://api.github.com/repos/a/b/"),
            "https://api.github.com/repos/a/b/releases/latest");
  EXPECT_EQ(tag_release_url("http://127.0.0.1:1", "v1.0.0"),
            "http://127.0.0.1:1/releases/tags/v1.0.0");
}

}  // namespace
}  // namespace mesh::updater
