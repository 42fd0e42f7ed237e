// Mustache templates (kainjow) over a boost::json context, HTML-escaped by default: {{x}} is
// escaped, {{{x}}} is raw. Every user string reaches a page through here.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "mesh/base/result.hpp"

namespace mesh::web {

struct RenderLimits {
  std::size_t max_template = 256 * 1024;      // bytes of template text (each partial too)
  std::size_t max_context = 4 * 1024 * 1024;  // bytes of keys and values in the context
  std::size_t max_output = 16 * 1024 * 1024;  // bytes of rendered output
  std::size_t max_depth = 64;                 // nesting of objects and arrays
};

// Escapes & < > " ' (as &amp; &lt; &gt; &quot; &#39;): safe in element content and in quoted
// attribute values.
std::string html_escape(std::string_view text);

// Named partials ({{> name}}), trusted template text.
using Partials = std::map<std::string, std::string, std::less<>>;

// Renders `tmpl` with `context`. Numbers render as JSON numbers, booleans and null as section
// conditions, arrays as section lists. Built-in section helpers, available in every template:
//   {{#mesh.sparkline}}3,0,5{{/mesh.sparkline}}  counts per day -> an inline SVG sparkline
//   {{#mesh.peers}}2/3{{/mesh.peers}}            up/total -> the peers-up indicator SVG
// (the section text is rendered first, so {{#mesh.sparkline}}{{counts}}{{/mesh.sparkline}}
// works; anything but the numbers renders nothing). A top-level "mesh" object gets the helpers
// added (a non-object one is replaced); "mesh" keys below the top level are dropped, and so are
// keys named like a partial, at every depth (kainjow would otherwise take a string under such
// a key as template text: a template injection from data).
// Errors: a template or partial over the limit or malformed (Errc::invalid, with kainjow's
// message), a context over its limits, output over max_output (Errc::limit). Nothing partial
// is returned on error.
Result<std::string> render(std::string_view tmpl, const boost::json::object& context,
                           const Partials* partials = nullptr, const RenderLimits& limits = {});

// The same with the context as JSON text (what plugins hand over): it must be an object of at
// most max_context bytes.
Result<std::string> render_json(std::string_view tmpl, std::string_view context_json,
                                const Partials* partials = nullptr,
                                const RenderLimits& limits = {});

// Parses JSON text with the context limits (size and depth); the value must be an object.
Result<boost::json::object> parse_context(std::string_view json, const RenderLimits& limits = {});

}  // namespace mesh::web
