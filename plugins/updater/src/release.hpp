// Release metadata in GitHub's releases API shape (GET /repos/OWNER/REPO/releases/latest and
// /releases/tags/TAG), as GitHub serves it and as tools/release/make-release.sh writes it for a
// static server. Metadata is untrusted: it only says where to look. What gets installed is
// decided by the signature, whose trusted comment names the file, and the file name carries
// the version.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "digest.hpp"
#include "errors.hpp"
#include "semver.hpp"

namespace mesh::updater {

struct MetadataLimits {
  std::size_t max_bytes = 1 << 20;  // GitHub's JSON for a release with 100 assets is ~300 KiB
  std::size_t max_assets = 256;
  std::size_t max_name = 255;
  std::uint64_t max_archive_bytes = 512ull << 20;
  std::uint64_t max_signature_bytes = 16384;
};

struct Asset {
  std::string name;
  std::uint64_t size = 0;
  std::string url;               // absolute, resolved against the metadata's URL, policy-checked
  std::string url_error;         // why `url` is empty: the policy refused browser_download_url
  std::optional<Sha256> sha256;  // GitHub's "digest": "sha256:<hex>", when present
};

struct Release {
  std::string tag;   // "v1.2.3"
  std::string name;  // free text
  SemVer version;    // parsed from tag
  bool prerelease = false;
  std::vector<Asset> assets;
};

// Parses one release object. `document_url` is where it was fetched from: relative
// browser_download_url values are resolved against it. Drafts are refused. An asset whose URL
// the policy refuses is kept with url_error set (it may not be the one this node wants).
Result<Release> parse_release_json(std::string_view json, std::string_view document_url,
                                   const MetadataLimits& limits = {});

// "x86_64", "aarch64", ...: the machine this library was built for (CMAKE_SYSTEM_PROCESSOR),
// the same word the package names carry.
std::string_view build_arch();

// mesh-<version>-linux-<arch>.tar.gz, and the version back from such a name.
std::string archive_name(const SemVer& version, std::string_view arch);
std::optional<SemVer> version_from_archive_name(std::string_view name, std::string_view arch);

struct PlatformAssets {
  Asset archive;
  Asset signature;  // <archive>.minisig
};

// The archive for `arch` and its signature. The archive's name must carry the release's own
// version: a release "v2.0.0" offering mesh-1.0.0-... is refused. Size limits apply here,
// before anything is downloaded.
Result<PlatformAssets> select_platform_assets(const Release& release, std::string_view arch,
                                              const MetadataLimits& limits = {});

}  // namespace mesh::updater
