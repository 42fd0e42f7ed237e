// Validation of what arrives in a URL (repo names, refs, paths, object ids) and the encodings
// the pages need: percent-encoded URL segments and valid UTF-8 for every string that goes
// into a template context.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mesh::browse {

// [A-Za-z0-9][A-Za-z0-9._-]{0,99}, without "..", not ending in ".git" or ".lock": the
// replication plugin's rule, so the name is a safe path component.
bool valid_repo_name(std::string_view name);

// A branch or tag name as a URL carries it (short, "feature/x"): at most 255 bytes, valid per
// git-check-ref-format (checked by libgit2 in the reader; here only what no ref can contain).
bool plausible_ref(std::string_view ref);

// 4..40 hex digits (an abbreviated or full SHA-1), any case.
bool valid_hex_oid(std::string_view s);

// A path inside a repo, split into its segments: no empty, "." or ".." segment, no NUL, at
// most kMaxPathBytes in all, kMaxPathSegments segments of kMaxSegmentBytes. "" is the root.
std::optional<std::vector<std::string>> split_repo_path(std::string_view path, std::string* why);
std::string join_path(const std::vector<std::string>& segments, std::size_t count);

// Percent-encodes everything but RFC 3986 unreserved characters (so '/' too).
std::string url_segment(std::string_view s);
// Each segment encoded, joined with '/'.
std::string url_path(const std::vector<std::string>& segments, std::size_t count);

// Invalid UTF-8 sequences and NUL become U+FFFD, so the text is valid JSON string content.
std::string valid_utf8(std::string_view s);
// The same, cut at a character boundary to at most max bytes (before replacement).
std::string valid_utf8_prefix(std::string_view s, std::size_t max);

}  // namespace mesh::browse
