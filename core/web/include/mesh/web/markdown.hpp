// GitHub-flavoured markdown to HTML with cmark-gfm: tables, strikethrough, autolinks, task
// lists. Raw HTML is dropped (never CMARK_OPT_UNSAFE), links with unsafe schemes are removed
// (their text stays), and relative links and images are resolved against bases.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "mesh/base/result.hpp"

namespace mesh::web {

struct MarkdownOptions {
  // Relative link targets ("docs/x.md", "../y") resolve against this, e.g.
  // "/repos/app/blob/main/docs/" (a trailing "/" marks a directory). Empty: left as written.
  std::string link_base;
  // The same for image sources, e.g. "/repos/app/raw/main/docs/".
  std::string image_base;
  std::size_t max_input = 1024 * 1024;
};

// Links keep http:, https:, mailto:, fragments ("#x") and paths; images keep http:, https:,
// paths and data:image/(png|gif|jpeg|webp). Anything else (javascript:, vbscript:, file:,
// data: links, unknown schemes) is removed: a link becomes its text, an image its alt text.
// Invalid UTF-8 and NUL bytes become U+FFFD. Errc::limit over max_input.
Result<std::string> markdown_to_html(std::string_view markdown,
                                     const MarkdownOptions& options = {});

}  // namespace mesh::web
