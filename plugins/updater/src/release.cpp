#include "release.hpp"

#include <boost/json.hpp>

#include "urls.hpp"

#ifndef MESH_UPDATER_ARCH
#error "MESH_UPDATER_ARCH must be defined by the build (CMAKE_SYSTEM_PROCESSOR)"
#endif

namespace mesh::updater {
namespace json = boost::json;
namespace {

Error bad(const std::string& why) {
  return make_error(Errc::invalid, "release metadata: " + why);
}

bool clean_text(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// A string member: nullopt if absent or null; an error if present with another type.
Result<std::optional<std::string>> get_string(const json::object& o, std::string_view key,
                                              std::size_t max_len) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) return bad("\"" + std::string(key) + "\" is not a string");
  const auto& s = it->value().get_string();
  if (s.size() > max_len) {
    return bad("\"" + std::string(key) + "\" is over " + std::to_string(max_len) + " characters");
  }
  return std::optional<std::string>(std::string(s));
}

Result<bool> get_bool(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return false;
  if (!it->value().is_bool()) return bad("\"" + std::string(key) + "\" is not a boolean");
  return it->value().get_bool();
}

Result<Asset> parse_asset(const json::value& v, std::string_view document_url,
                          const MetadataLimits& limits) {
  if (!v.is_object()) return bad("an asset is not an object");
  const auto& o = v.get_object();
  auto name = get_string(o, "name", limits.max_name);
  if (!name) return name.error();
  if (!*name || (*name)->empty() || !clean_text(**name)) return bad("an asset has no valid name");
  Asset a;
  a.name = **name;
  auto size = o.find("size");
  if (size == o.end() || !(size->value().is_int64() || size->value().is_uint64()) ||
      (size->value().is_int64() && size->value().get_int64() < 0)) {
    return bad("asset '" + a.name + "' has no valid size");
  }
  a.size = size->value().is_uint64() ? size->value().get_uint64()
                                     : static_cast<std::uint64_t>(size->value().get_int64());
  auto url = get_string(o, "browser_download_url", kMaxUrlLength);
  if (!url) return url.error();
  if (!*url) return bad("asset '" + a.name + "' has no browser_download_url");
  if (auto resolved = resolve_url(document_url, **url)) {
    a.url = *resolved;
  } else {
    a.url_error = resolved.error().message;
  }
  auto digest = get_string(o, "digest", 200);
  if (!digest) return digest.error();
  if (*digest && (*digest)->starts_with("sha256:")) {
    auto sha = parse_sha256_hex(std::string_view(**digest).substr(7));
    if (!sha) return bad("asset '" + a.name + "' has a malformed sha256 digest");
    a.sha256 = *sha;
  }
  return a;
}

const Asset* find_asset(const Release& r, std::string_view name) {
  for (const auto& a : r.assets) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace

std::string_view build_arch() {
  return MESH_UPDATER_ARCH;
}

Result<Release> parse_release_json(std::string_view text, std::string_view document_url,
                                   const MetadataLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return make_error(Errc::too_large,
                      "release metadata is over " + std::to_string(limits.max_bytes) + " bytes");
  }
  json::parse_options opts;
  opts.max_depth = 16;
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec, {}, opts);
  if (ec) return bad("not JSON (" + ec.message() + ")");
  if (!doc.is_object()) return bad("not a release object");
  const auto& o = doc.get_object();
  Release r;
  auto tag = get_string(o, "tag_name", kMaxVersionLength + 1);
  if (!tag) return tag.error();
  if (!*tag) return bad("no \"tag_name\"");
  r.tag = **tag;
  auto version = parse_tag(r.tag);
  if (!version) return bad("tag \"" + r.tag + "\": " + version.error().message);
  r.version = *version;
  auto name = get_string(o, "name", 1024);
  if (!name) return name.error();
  r.name = name->value_or(r.tag);
  auto draft = get_bool(o, "draft");
  if (!draft) return draft.error();
  if (*draft) return make_error(Errc::not_found, "release " + r.tag + " is a draft");
  auto pre = get_bool(o, "prerelease");
  if (!pre) return pre.error();
  r.prerelease = *pre || r.version.prerelease();
  auto assets = o.find("assets");
  if (assets == o.end() || !assets->value().is_array()) return bad("no \"assets\" array");
  const auto& arr = assets->value().get_array();
  if (arr.size() > limits.max_assets) {
    return make_error(Errc::too_large, "release " + r.tag + " has over " +
                                           std::to_string(limits.max_assets) + " assets");
  }
  for (const auto& v : arr) {
    auto a = parse_asset(v, document_url, limits);
    if (!a) return a.error();
    r.assets.push_back(std::move(*a));
  }
  return r;
}

std::string archive_name(const SemVer& version, std::string_view arch) {
  return "mesh-" + version.str() + "-linux-" + std::string(arch) + ".tar.gz";
}

std::optional<SemVer> version_from_archive_name(std::string_view name, std::string_view arch) {
  std::string suffix = "-linux-" + std::string(arch) + ".tar.gz";
  if (!name.starts_with("mesh-") || !name.ends_with(suffix)) return std::nullopt;
  name.remove_prefix(5);
  name.remove_suffix(suffix.size());
  auto v = parse_semver(name);
  if (!v) return std::nullopt;
  return *v;
}

Result<PlatformAssets> select_platform_assets(const Release& release, std::string_view arch,
                                              const MetadataLimits& limits) {
  std::string want = archive_name(release.version, arch);
  const Asset* archive = find_asset(release, want);
  if (!archive) {
    return make_error(Errc::not_found, "release " + release.tag +
                                           " has no archive for this platform (" + want + ")");
  }
  const Asset* sig = find_asset(release, want + ".minisig");
  if (!sig) {
    return make_error(Errc::not_found,
                      "release " + release.tag + " has no signature " + want + ".minisig");
  }
  for (const Asset* a : {archive, sig}) {
    if (a->url.empty()) return make_error(Errc::invalid, a->name + ": " + a->url_error);
  }
  if (archive->size > limits.max_archive_bytes) {
    return make_error(Errc::too_large, want + " is " + std::to_string(archive->size) +
                                           " bytes, over the limit of " +
                                           std::to_string(limits.max_archive_bytes));
  }
  if (sig->size > limits.max_signature_bytes) {
    return make_error(Errc::too_large, sig->name + " is over " +
                                           std::to_string(limits.max_signature_bytes) + " bytes");
  }
  return PlatformAssets{*archive, *sig};
}

}  // namespace mesh::updater
