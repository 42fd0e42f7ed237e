// The host's template engine and markdown renderer for tests: the daemon's own web layer
// (core/web: mesh::web::render_json and markdown_to_html, what ui_render and markdown_render
// call), with the "mesh" object the host adds. A test may swap the markdown for its own
// function, or turn it off (the glue then shows the text escaped, as on a host without
// markdown_render).
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <string>

#include "mesh/web/markdown.hpp"
#include "mesh/web/render.hpp"
#include "web_board.hpp"

namespace mesh::issues::test {

class TestRenderer final : public Renderer {
 public:
  std::function<std::string(std::string_view)> markdown_fn;  // set: used instead of cmark-gfm
  bool has_markdown = true;
  std::size_t renders = 0;

  bool render(std::string_view tmpl, const std::string& context_json, std::string* out,
              std::string* error) override {
    ++renders;
    boost::system::error_code ec;
    boost::json::value ctx = boost::json::parse(context_json, ec);
    if (ec || !ctx.is_object()) return *error = "the context is not a JSON object", false;
    ctx.as_object()["mesh"] = boost::json::object{
        {"csrf", "CSRF-TOKEN"}, {"node", "alice"}, {"id", "mesh:self"}, {"version", "0.1.0"}};
    auto r = mesh::web::render(tmpl, ctx.as_object());
    if (!r) return *error = r.error().message, false;
    *out = std::move(*r);
    return true;
  }
  bool markdown(std::string_view text, std::string_view link_base, std::string* out) override {
    if (markdown_fn) return *out = markdown_fn(text), true;
    if (!has_markdown) return false;
    mesh::web::MarkdownOptions o;
    o.link_base = std::string(link_base);
    o.image_base = std::string(link_base);
    auto r = mesh::web::markdown_to_html(text, o);
    if (!r) return false;
    *out = std::move(*r);
    return true;
  }
};

}  // namespace mesh::issues::test
