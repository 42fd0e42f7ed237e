#include "mesh/web/assets.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <mutex>

#include "mesh/base/encoding.hpp"
#include "mesh/web/layout.hpp"

namespace mesh::web {
namespace {

constexpr std::size_t kMaxPart = 64;
constexpr std::size_t kMaxContentType = 128;

// [a-z0-9][a-z0-9._-]{0,63}
bool valid_part(std::string_view s) {
  if (s.empty() || s.size() > kMaxPart) return false;
  auto ok_first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!ok_first(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return ok_first(c) || c == '.' || c == '_' || c == '-'; });
}

bool valid_path(std::string_view path) {
  auto slash = path.find('/');
  if (slash == std::string_view::npos) return valid_part(path);
  return valid_part(path.substr(0, slash)) && valid_part(path.substr(slash + 1));
}

bool valid_content_type(std::string_view ct) {
  if (ct.empty() || ct.size() > kMaxContentType) return false;
  return std::all_of(ct.begin(), ct.end(), [](char c) {
    return c >= 0x20 && c < 0x7f;  // printable ASCII: no CR/LF header injection
  });
}

std::string etag_of(std::string_view data) {
  std::array<std::uint8_t, 16> h{};
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size(), nullptr, 0);
  return "\"" + to_hex(h) + "\"";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string content_type_for(std::string_view name) {
  auto dot = name.rfind('.');
  std::string_view ext = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "gif") return "image/gif";
  if (ext == "webp") return "image/webp";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "json") return "application/json";
  if (ext == "txt" || ext == "map") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

bool etag_matches(std::string_view header, std::string_view etag) {
  header = trim(header);
  if (header == "*") return true;
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view item = trim(header.substr(0, comma));
    if (item.starts_with("W/")) item.remove_prefix(2);  // weak comparison
    if (item == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

AssetStore::AssetStore(AssetLimits limits) : limits_(limits) {}

Status AssetStore::put(std::string_view path, std::string_view content_type, std::string data) {
  if (!valid_path(path)) {
    return make_error(Errc::invalid, "asset name '" + std::string(path.substr(0, 80)) +
                                         "' must match [a-z0-9][a-z0-9._-]{0,63}");
  }
  std::string ct = content_type.empty() ? content_type_for(path) : std::string(content_type);
  if (!valid_content_type(ct)) {
    return make_error(Errc::invalid, "an asset content type is 1..128 printable ASCII bytes");
  }
  if (data.size() > limits_.max_asset) {
    return make_error(Errc::limit, "asset " + std::string(path) + " is over " +
                                       std::to_string(limits_.max_asset) + " bytes");
  }
  auto asset = std::make_shared<Asset>();
  asset->content_type = std::move(ct);
  asset->etag = etag_of(data);
  asset->data = std::move(data);
  std::unique_lock lock(mu_);
  auto it = assets_.find(path);
  const std::size_t old = it == assets_.end() ? 0 : it->second->data.size();
  if (it == assets_.end() && assets_.size() >= limits_.max_count) {
    return make_error(Errc::limit, "at most " + std::to_string(limits_.max_count) + " assets");
  }
  if (total_ - old + asset->data.size() > limits_.max_total) {
    return make_error(Errc::limit, "the assets would be over " + std::to_string(limits_.max_total) +
                                       " bytes in all");
  }
  total_ = total_ - old + asset->data.size();
  if (it == assets_.end()) {
    assets_.emplace(std::string(path), std::move(asset));
  } else {
    it->second = std::move(asset);
  }
  return {};
}

void AssetStore::remove_owner(std::string_view owner) {
  const std::string prefix = std::string(owner) + "/";
  std::unique_lock lock(mu_);
  for (auto it = assets_.lower_bound(prefix);
       it != assets_.end() && it->first.starts_with(prefix);) {
    total_ -= it->second->data.size();
    it = assets_.erase(it);
  }
}

std::shared_ptr<const Asset> AssetStore::get(std::string_view path) const {
  std::shared_lock lock(mu_);
  auto it = assets_.find(path);
  return it == assets_.end() ? nullptr : it->second;
}

http::Response AssetStore::respond(const http::Request& request) const {
  http::Response res;
  res.headers = security_headers(Content::asset);
  std::string_view path = request.path;
  constexpr std::string_view kPrefix = "/assets/";
  std::shared_ptr<const Asset> asset;
  if (path.starts_with(kPrefix)) asset = get(path.substr(kPrefix.size()));
  if (!asset) {
    res.status = 404;
    res.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    res.headers.emplace_back("Cache-Control", "no-store");
    res.body = "no such asset\n";
    return res;
  }
  res.headers.emplace_back("ETag", asset->etag);
  // Revalidate every time: the same URL serves new bytes after an upgrade or a plugin reload.
  res.headers.emplace_back("Cache-Control", "no-cache");
  if (etag_matches(request.header("If-None-Match"), asset->etag)) {
    res.status = 304;
    return res;
  }
  res.status = 200;
  res.headers.emplace_back("Content-Type", asset->content_type);
  res.body = asset->data;
  return res;
}

std::vector<http::RouteId> AssetStore::register_routes(http::Router& router) const {
  http::RouteOptions opts;
  opts.access = http::Access::local;
  opts.max_body = 0;
  std::vector<http::RouteId> ids;
  for (const char* method : {"GET", "HEAD"}) {
    ids.push_back(router.add(
        method, "/assets", opts,
        [this](http::Request&& req, http::Responder respond) { respond(this->respond(req)); }));
  }
  return ids;
}

}  // namespace mesh::web
