// The asset store: stylesheets, scripts and images served at /assets/<name> (the core's) and
// /assets/<plugin id>/<name> (what plugins register with ui_asset), to loopback clients only,
// with a strong ETag from the content hash and revalidation (If-None-Match -> 304).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/http/router.hpp"

namespace mesh::web {

struct Asset {
  std::string content_type;
  std::string etag;  // "\"<32 hex digits>\"": BLAKE2b-128 of the bytes
  std::string data;
};

struct AssetLimits {
  std::size_t max_asset = 4 * 1024 * 1024;   // bytes of one asset
  std::size_t max_total = 64 * 1024 * 1024;  // bytes of all assets together
  std::size_t max_count = 1024;
};

// Thread-safe: any thread may put or remove while requests are served.
class AssetStore {
 public:
  explicit AssetStore(AssetLimits limits = {});

  // path: "<name>" or "<owner>/<name>", each part [a-z0-9][a-z0-9._-]{0,63}. An empty
  // content_type is derived from the extension (see content_type_for). Putting a path again
  // replaces it. Errc::invalid for a bad path or content type, Errc::limit over a limit.
  Status put(std::string_view path, std::string_view content_type, std::string data);
  // Removes "<owner>/..." (a stopped plugin's assets).
  void remove_owner(std::string_view owner);
  std::shared_ptr<const Asset> get(std::string_view path) const;

  // The answer to GET/HEAD /assets/<path>: 200 with the bytes, 304 when If-None-Match names
  // the current ETag (or "*"), 404 otherwise; always with the security headers, ETag,
  // Cache-Control: no-cache.
  http::Response respond(const http::Request& request) const;
  // GET and HEAD on the prefix /assets, loopback only. Returns the route ids.
  std::vector<http::RouteId> register_routes(http::Router& router) const;

 private:
  AssetLimits limits_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const Asset>, std::less<>> assets_;
  std::size_t total_ = 0;
};

// "text/css; charset=utf-8" for .css, "text/javascript; charset=utf-8" for .js, image/svg+xml,
// image/png, image/jpeg, image/gif, image/webp, image/x-icon, font/woff2, application/json,
// text/plain; charset=utf-8 for .txt/.map, else application/octet-stream.
std::string content_type_for(std::string_view name);

// True if an If-None-Match header value names `etag` (weak comparison, as RFC 9110 asks for
// If-None-Match) or is "*".
bool etag_matches(std::string_view if_none_match, std::string_view etag);

}  // namespace mesh::web
