// Which URLs the updater fetches: https anywhere; plain http only from a loopback host (a
// local release server in tests or an operator's mirror on the same machine). Everything
// fetched is verified against the release key anyway, but metadata over plain http could be
// replayed or withheld by anyone on the path, so the network never gets a plain-http fetch.
#pragma once

#include <string>
#include <string_view>

#include "errors.hpp"

namespace mesh::updater {

constexpr std::size_t kMaxUrlLength = 2048;

// An absolute http(s) URL without credentials ("user:pass@"), at most kMaxUrlLength, that the
// policy allows. Returns it normalised (Boost.URL).
Result<std::string> check_url(std::string_view url);

// `ref` (absolute, or relative such as "../download/v1.2.3/x.tar.gz") resolved against the URL
// of the document it came from (RFC 3986 §5), then checked by check_url.
Result<std::string> resolve_url(std::string_view base, std::string_view ref);

// 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

// The release source's endpoints, GitHub's shape: <source>/releases/latest and
// <source>/releases/tags/<tag>. `source` may end in '/' or not.
std::string latest_release_url(std::string_view source);
std::string tag_release_url(std::string_view source, std::string_view tag);

}  // namespace mesh::updater
