// The one layout every UI page shares (the core's and the plugins'): header with the node name
// and the peers-up indicator, navigation (node entries and per-repo tabs, extendable at run
// time), the page body, footer with the version, the CSRF meta tag, and the security headers.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mesh/base/result.hpp"

namespace mesh::web {

using Headers = std::vector<std::pair<std::string, std::string>>;

// What kind of response the security headers are for.
enum class Content {
  page,    // HTML: adds Cache-Control: no-store
  asset,   // /assets: the caller sets Cache-Control (no-cache + ETag)
  stream,  // text/event-stream: Cache-Control: no-store
};

// The CSP (default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;
// connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'), plus
// X-Content-Type-Options: nosniff, Referrer-Policy: same-origin, X-Frame-Options: DENY, and
// Cache-Control: no-store for pages and streams.
Headers security_headers(Content kind);

struct NavEntry {
  std::string label;  // plain text, escaped when rendered
  std::string href;   // a path; "{repo}" is replaced by the repo name in repo tabs
  std::string owner;  // "core" or a plugin id: remove_owner() drops a stopped plugin's entries
};

enum class NavScope { node, repo };

// Thread-safe navigation registry. Entries keep their registration order. Labels are 1..40
// bytes without control characters; hrefs are 1..256 bytes, start with "/" (not "//"), and
// contain no control characters, spaces, quotes, "<", ">" or "\". At most 64 entries a scope.
// Registering the same label again in a scope replaces its href (and owner).
class Nav {
 public:
  Status add(NavScope scope, std::string_view label, std::string_view href, std::string_view owner);
  // "node" or "repo" as plugin.h spells it.
  Status add(std::string_view scope, std::string_view label, std::string_view href,
             std::string_view owner);
  void remove_owner(std::string_view owner);
  std::vector<NavEntry> entries(NavScope scope) const;

 private:
  mutable std::mutex mu_;
  std::vector<NavEntry> node_, repo_;
};

// What the layout shows around every page.
struct Frame {
  std::string node_name;
  std::string node_id;
  std::string version;
  std::string csrf;
  std::size_t peers_up = 0;
  std::size_t peers_total = 0;
  std::vector<NavEntry> node_nav;
  std::vector<NavEntry> repo_tabs;
};

struct Page {
  unsigned status = 200;
  std::string title;      // plain text
  std::string repo;       // non-empty: the page belongs to this repo (tabs are shown)
  std::string tab;        // the nav label to highlight (node entry or repo tab)
  std::string body_html;  // trusted markup, inserted as is
  // Script URLs loaded at the end of the body after /assets/mesh.js (always first). Each must
  // be a path below /assets/ of [A-Za-z0-9._/-] characters.
  std::vector<std::string> scripts;
};

// Percent-encodes all but RFC 3986 unreserved characters, for one path segment (a repo name
// in an href, say).
std::string url_segment(std::string_view text);

// Splits ui_respond's space-separated script list.
std::vector<std::string> split_scripts(std::string_view scripts);

// The whole HTML document. Errc::invalid for a bad script URL (nothing is rendered then), or
// what the renderer reports.
Result<std::string> render_layout(const Page& page, const Frame& frame);

}  // namespace mesh::web
