// Links and template contexts for the repo pages. Every string from a repo (names, messages,
// paths, file contents) goes in as valid UTF-8 and is escaped by the template ({{x}}); the only
// raw markup built here (gutter_html) is made of numbers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "reader.hpp"

namespace mesh::browse::view {

using Segments = std::vector<std::string>;

std::string repo_href(std::string_view repo);
// /repos/<repo>/<what>/<ref>[/<path>], each part percent-encoded ('/' in a ref as %2F).
std::string ref_href(std::string_view repo, std::string_view what, std::string_view ref,
                     const Segments& path = {}, std::size_t count = SIZE_MAX);
std::string commit_href(std::string_view repo, std::string_view oid);

// "2026-12-03 18:14 UTC"
std::string date_text(std::int64_t seconds);
// "1.5 KiB"
std::string size_text(std::uint64_t bytes);
// "3,0,5": the sparkline helper's input.
std::string counts_text(const std::vector<std::uint32_t>& counts);
std::uint64_t counts_total(const std::vector<std::uint32_t>& counts);

boost::json::object commit_row(std::string_view repo, const CommitInfo& c);
boost::json::array ref_rows(std::string_view repo, const RefList& refs, std::string_view current);
// The entries of directory `dir` at `ref`.
boost::json::array tree_rows(std::string_view repo, std::string_view ref, const Segments& dir,
                             const TreeListing& listing);
// repo / a / b: each a link to its directory but the last.
boost::json::array breadcrumbs(std::string_view repo, std::string_view ref, const Segments& path);

// <a id="L1" href="#L1">1</a> ... one per line: numbers only.
std::string gutter_html(std::size_t lines);
std::size_t line_count(std::string_view text);

// README, README.md, readme.markdown, README.txt ... (the first that fits, .md preferred).
const TreeEntry* find_readme(const TreeListing& listing);
bool is_markdown(std::string_view name);
// The content type /raw serves a file under: raster images and SVG by extension (SVG with a
// sandboxing CSP), text as text/plain, the rest application/octet-stream.
std::string raw_type(std::string_view name, bool binary);
bool is_image(std::string_view name);

}  // namespace mesh::browse::view
