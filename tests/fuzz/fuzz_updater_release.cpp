// libFuzzer target: release metadata (GitHub-shaped JSON from a release source), asset
// selection and semantic versions. What is accepted must be what the updater relies on: a
// selected asset has a policy-checked URL and a name carrying the release's version.
#include <cstdint>
#include <string>
#include <string_view>

#include "release.hpp"
#include "semver.hpp"
#include "urls.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  using namespace mesh::updater;
  if (auto v = parse_semver(in.substr(0, 80))) {
    // Canonical text round-trips and orders equal to itself.
    auto again = parse_semver(v->str());
    check(again && compare(*v, *again) == 0 && again->str() == v->str());
    check(v->str().size() <= kMaxVersionLength);
  }
  auto rel = parse_release_json(in, "https://api.github.com/repos/o/r/releases/latest");
  if (!rel) return 0;
  check(rel->assets.size() <= MetadataLimits{}.max_assets);
  for (const char* arch : {"x86_64", "aarch64"}) {
    auto a = select_platform_assets(*rel, arch);
    if (!a) continue;
    check(a->archive.name == archive_name(rel->version, arch));
    check(a->signature.name == a->archive.name + ".minisig");
    auto v = version_from_archive_name(a->archive.name, arch);
    check(v && compare(*v, rel->version) == 0);
    check(check_url(a->archive.url).ok() && check_url(a->signature.url).ok());
    check(a->archive.size <= MetadataLimits{}.max_archive_bytes);
  }
  return 0;
}
