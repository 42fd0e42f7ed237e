// The host's template engine for tests: kainjow mustache, the library the daemon's ui_render
// uses (core/web), with the same context conversion (numbers as JSON numbers, false/null/[] as
// false sections) and a "mesh" object. Markdown is a stand-in that records its bases and shows
// the text escaped in a marker element (the real renderer has its own tests in core/web).
#pragma once

#include <kainjow/mustache.hpp>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "pages.hpp"

namespace mesh::browse::test {

inline kainjow::mustache::data to_mustache(const boost::json::value& v) {
  using kainjow::mustache::data;
  switch (v.kind()) {
    case boost::json::kind::object: {
      data d{data::type::object};
      for (const auto& [k, x] : v.as_object()) d.set(std::string(k), to_mustache(x));
      return d;
    }
    case boost::json::kind::array: {
      if (v.as_array().empty()) return data(false);
      data l{data::type::list};
      for (const auto& x : v.as_array()) l.push_back(to_mustache(x));
      return l;
    }
    case boost::json::kind::string:
      return data(std::string(v.as_string()));
    case boost::json::kind::bool_:
      return data(v.as_bool());
    case boost::json::kind::null:
      return data(false);
    default:
      return data(boost::json::serialize(v));
  }
}

inline std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

class TestRenderer final : public Renderer {
 public:
  bool with_markdown = true;
  std::vector<std::pair<std::string, std::string>> markdown_bases;  // link, image
  std::string last_context;

  bool render(std::string_view tmpl, const std::string& context_json, std::string* out,
              std::string* error) override {
    last_context = context_json;
    boost::system::error_code ec;
    boost::json::value ctx = boost::json::parse(context_json, ec);  // rejects invalid UTF-8
    if (ec || !ctx.is_object()) return *error = "bad context: " + ec.message(), false;
    ctx.as_object()["mesh"] = boost::json::object{
        {"csrf", "CSRF-TOKEN"}, {"node", "alice"}, {"id", "mesh:self"}, {"version", "0.1.0"}};
    kainjow::mustache::mustache m{std::string(tmpl)};
    if (!m.is_valid()) return *error = m.error_message(), false;
    m.set_custom_escape([](const std::string& s) { return html_escape(s); });  // as the host
    *out = m.render(to_mustache(ctx));
    if (!m.is_valid()) return *error = m.error_message(), false;
    return true;
  }
  bool markdown(std::string_view text, std::string_view link_base, std::string_view image_base,
                std::string* out) override {
    if (!with_markdown) return false;
    markdown_bases.emplace_back(link_base, image_base);
    *out = "<div class=\"md\">" + html_escape(text) + "</div>";
    return true;
  }
};

}  // namespace mesh::browse::test
