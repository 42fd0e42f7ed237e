#include "mesh/web/markdown.hpp"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>

#include <algorithm>
#include <boost/url.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace mesh::web {
namespace urls = boost::urls;

namespace {

// GFM without the unsafe option: raw HTML (blocks and inline) becomes "<!-- raw HTML omitted -->".
// VALIDATE_UTF8 replaces invalid sequences (and NUL) with U+FFFD.
constexpr int kOptions = CMARK_OPT_DEFAULT | CMARK_OPT_VALIDATE_UTF8;
constexpr const char* kExtensions[] = {"table", "strikethrough", "autolink", "tasklist",
                                       "tagfilter"};

struct ParserFree {
  void operator()(cmark_parser* p) const { cmark_parser_free(p); }
};
struct NodeFree {
  void operator()(cmark_node* n) const { cmark_node_free(n); }
};
struct IterFree {
  void operator()(cmark_iter* i) const { cmark_iter_free(i); }
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The scheme as a browser would see it: ASCII whitespace and control characters are dropped
// first ("java\tscript:" is javascript:). Empty when the URL has none (a relative reference).
std::string scheme_of(std::string_view url) {
  std::string cleaned;
  for (char c : url) {
    if (static_cast<unsigned char>(c) > 0x20 && c != 0x7f) cleaned += c;
  }
  const auto colon = cleaned.find(':');
  if (colon == std::string::npos || colon == 0) return {};
  const auto stop = cleaned.find_first_of("/?#");
  if (stop != std::string::npos && stop < colon) return {};
  const std::string_view scheme(cleaned.data(), colon);
  const bool ok =
      std::isalpha(static_cast<unsigned char>(scheme[0])) &&
      std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
      });
  // Not a valid scheme, but a browser might still act on it: refuse rather than guess.
  return ok ? lower(scheme) : std::string("invalid");
}

bool safe_image_data(std::string_view url) {
  const std::string l = lower(url.substr(0, 32));
  for (const char* ok :
       {"data:image/png", "data:image/gif", "data:image/jpeg", "data:image/webp"}) {
    const std::string_view prefix(ok);
    if (l.starts_with(prefix) && l.size() > prefix.size() &&
        (l[prefix.size()] == ';' || l[prefix.size()] == ',')) {
      return true;
    }
  }
  return false;
}

// Percent-encodes what RFC 3986 does not allow in a reference (spaces, non-ASCII, ...), so
// Boost.URL can parse what people write in markdown.
std::string encode_loose(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  static constexpr std::string_view kAllowed =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%";
  std::string out;
  for (char c : s) {
    if (kAllowed.find(c) != std::string_view::npos) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// Boost.URL 1.81's resolve() decodes "%2F" into "/" (a branch "feature/x" in a base such as
// /repos/app/blob/feature%2Fx/ would become two segments). Before resolving, "%25" becomes
// "%2525" and "%2F" becomes "%252F" (resolve keeps "%25" as it is); afterwards the reverse.
// Reversible: after the first step every "%25" is followed by "25" or "2F".
std::string protect_slashes(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 3 <= s.size()) {
      const std::string hex = lower(s.substr(i + 1, 2));
      if (hex == "25" || hex == "2f") {
        out += hex == "25" ? "%2525" : "%252F";
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string restore_slashes(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s.substr(i, 3) == "%25" && i + 5 <= s.size()) {
      const std::string hex = lower(s.substr(i + 3, 2));
      if (hex == "25" || hex == "2f") {
        out += hex == "25" ? "%25" : "%2F";
        i += 4;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// Resolves a relative reference against a base path or URL (RFC 3986 §5.2, by Boost.URL).
std::optional<std::string> resolve(std::string_view base, std::string_view ref) {
  const bool base_is_url = !scheme_of(base).empty();
  std::string b = base_is_url ? std::string(base)
                              : "http://base" + std::string(base.starts_with('/') ? "" : "/") +
                                    std::string(base);
  // The views parse_* return point into these strings: keep them alive.
  const std::string base_text = protect_slashes(encode_loose(b));
  const std::string ref_text = protect_slashes(encode_loose(ref));
  auto bu = urls::parse_uri(base_text);
  auto ru = urls::parse_relative_ref(ref_text);
  if (!bu || !ru) return std::nullopt;
  urls::url dest;
  if (auto r = urls::resolve(*bu, *ru, dest); !r) return std::nullopt;
  if (base_is_url) return restore_slashes(dest.buffer());
  // Boost.URL 1.81 keeps ".." segments that climb above the root ("/../x"); RFC 3986 and
  // browsers drop them.
  std::string out = restore_slashes(dest.encoded_resource());
  while (out.starts_with("/../")) out.erase(0, 3);
  if (out == "/..") out = "/";
  return out;
}

enum class Verdict { keep, rewrite, remove };

// What to do with one link or image destination; `out` receives a rewritten URL.
Verdict judge(std::string_view url, bool image, const MarkdownOptions& opts, std::string* out) {
  const std::string scheme = scheme_of(url);
  if (!scheme.empty()) {
    if (scheme == "http" || scheme == "https") return Verdict::keep;
    if (!image && scheme == "mailto") return Verdict::keep;
    if (image && scheme == "data" && safe_image_data(url)) return Verdict::keep;
    return Verdict::remove;
  }
  if (url.empty() || url.starts_with('#') || url.starts_with("//")) return Verdict::keep;
  const std::string& base = image ? opts.image_base : opts.link_base;
  if (base.empty()) return Verdict::keep;
  auto resolved = resolve(base, url);
  if (!resolved) return Verdict::remove;  // unparseable: not worth guessing what it meant
  *out = std::move(*resolved);
  return Verdict::rewrite;
}

// A removed link or image leaves its content (the link text, the image's alt text) in place.
void unwrap(cmark_node* node) {
  while (cmark_node* child = cmark_node_first_child(node)) cmark_node_insert_before(node, child);
  cmark_node_free(node);  // unlinks it too
}

}  // namespace

Result<std::string> markdown_to_html(std::string_view markdown, const MarkdownOptions& options) {
  if (markdown.size() > options.max_input) {
    return make_error(Errc::limit,
                      "markdown input is over " + std::to_string(options.max_input) + " bytes");
  }
  // cmark-gfm guards its registration with a plain static flag: not thread-safe by itself.
  static std::once_flag registered;
  std::call_once(registered, [] { cmark_gfm_core_extensions_ensure_registered(); });
  std::unique_ptr<cmark_parser, ParserFree> parser(cmark_parser_new(kOptions));
  if (!parser) return make_error(Errc::internal, "cmark_parser_new failed");
  for (const char* name : kExtensions) {
    cmark_syntax_extension* ext = cmark_find_syntax_extension(name);
    if (!ext) return make_error(Errc::internal, std::string("cmark-gfm has no extension ") + name);
    cmark_parser_attach_syntax_extension(parser.get(), ext);
  }
  cmark_parser_feed(parser.get(), markdown.data(), markdown.size());
  std::unique_ptr<cmark_node, NodeFree> doc(cmark_parser_finish(parser.get()));
  if (!doc) return make_error(Errc::internal, "cmark could not parse the markdown");

  // Collect first: the tree must not change under the iterator.
  std::vector<cmark_node*> targets;
  {
    std::unique_ptr<cmark_iter, IterFree> it(cmark_iter_new(doc.get()));
    for (cmark_event_type ev; (ev = cmark_iter_next(it.get())) != CMARK_EVENT_DONE;) {
      cmark_node* n = cmark_iter_get_node(it.get());
      const auto type = cmark_node_get_type(n);
      if (ev == CMARK_EVENT_ENTER && (type == CMARK_NODE_LINK || type == CMARK_NODE_IMAGE)) {
        targets.push_back(n);
      }
    }
  }
  // Innermost first (images inside links), so unwrapping never frees a node still listed.
  for (auto i = targets.rbegin(); i != targets.rend(); ++i) {
    cmark_node* n = *i;
    const char* url = cmark_node_get_url(n);
    std::string rewritten;
    switch (
        judge(url ? url : "", cmark_node_get_type(n) == CMARK_NODE_IMAGE, options, &rewritten)) {
      case Verdict::keep:
        break;
      case Verdict::rewrite:
        cmark_node_set_url(n, rewritten.c_str());
        break;
      case Verdict::remove:
        unwrap(n);
        break;
    }
  }

  cmark_mem* mem = cmark_get_default_mem_allocator();
  char* html = cmark_render_html_with_mem(doc.get(), kOptions,
                                          cmark_parser_get_syntax_extensions(parser.get()), mem);
  if (!html) return make_error(Errc::internal, "cmark could not render the markdown");
  std::string out(html);
  mem->free(html);
  return out;
}

}  // namespace mesh::web
