#include "mesh/web/render.hpp"

#include <kainjow/mustache.hpp>

#include <boost/json.hpp>
#include <charconv>
#include <utility>

#include "mesh/web/svg.hpp"

namespace mesh::web {
namespace json = boost::json;
namespace mustache = kainjow::mustache;

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
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

namespace {

// Converts the context while counting its bytes and depth, so an oversize context fails before
// anything is rendered. kainjow looks partials up like variables, innermost context first, and
// also accepts a string there as template text: so a key named like a partial is dropped at
// every depth, or a user string under that key would be parsed as a template.
class Converter {
 public:
  Converter(const RenderLimits& limits, const Partials* partials)
      : limits_(limits), partials_(partials) {}

  Result<mustache::data> convert(const json::value& v, std::size_t depth) {
    if (depth > limits_.max_depth) {
      return make_error(Errc::limit, "the template context is nested deeper than " +
                                         std::to_string(limits_.max_depth) + " levels");
    }
    switch (v.kind()) {
      case json::kind::null:
        return mustache::data(false);
      case json::kind::bool_:
        return mustache::data(v.get_bool());
      case json::kind::int64:
      case json::kind::uint64:
      case json::kind::double_: {
        std::string text;
        if (v.is_double()) {
          // Shortest round-trip form ("2.5"), not Boost.JSON's "2.5E0".
          char buf[32];
          auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
          text = ec == std::errc() ? std::string(buf, end) : json::serialize(v);
        } else {
          text = json::serialize(v);
        }
        if (auto st = count(text.size()); !st) return st.error();
        return mustache::data(std::move(text));
      }
      case json::kind::string: {
        const auto& s = v.get_string();
        if (auto st = count(s.size()); !st) return st.error();
        return mustache::data(std::string(s));
      }
      case json::kind::array: {
        mustache::data list{mustache::data::type::list};
        for (const auto& item : v.get_array()) {
          auto d = convert(item, depth + 1);
          if (!d) return d.error();
          list.push_back(std::move(*d));
        }
        return list;
      }
      case json::kind::object: {
        mustache::data obj{mustache::data::type::object};
        for (const auto& [key, item] : v.get_object()) {
          if (partials_ && partials_->count(std::string_view(key))) continue;
          // "mesh" is the helpers' and the node's name: below the top it would shadow them.
          if (depth > 0 && key == "mesh") continue;
          if (auto st = count(key.size()); !st) return st.error();
          auto d = convert(item, depth + 1);
          if (!d) return d.error();
          obj.set(std::string(key), std::move(*d));
        }
        return obj;
      }
    }
    return make_error(Errc::internal, "unknown JSON kind");
  }

 private:
  Status count(std::size_t n) {
    bytes_ += n;
    if (bytes_ > limits_.max_context) {
      return make_error(Errc::limit, "the template context is over " +
                                         std::to_string(limits_.max_context) + " bytes");
    }
    return {};
  }

  const RenderLimits& limits_;
  const Partials* partials_;
  std::size_t bytes_ = 0;
};

// {{#mesh.sparkline}}...{{/mesh.sparkline}} and {{#mesh.peers}}...{{/mesh.peers}}: the section
// text is rendered in the current context, then only numbers are accepted.
void add_helpers(mustache::data& mesh) {
  mesh.set("sparkline",
           mustache::lambda2{[](const std::string& text, const mustache::renderer& render) {
             auto counts = parse_counts(render(text));
             return counts ? sparkline_svg(*counts) : std::string();
           }});
  mesh.set("peers",
           mustache::lambda2{[](const std::string& text, const mustache::renderer& render) {
             auto ut = parse_up_total(render(text));
             return ut ? peers_svg(ut->first, ut->second) : std::string();
           }});
}

}  // namespace

Result<std::string> render(std::string_view tmpl, const json::object& context,
                           const Partials* partials, const RenderLimits& limits) {
  if (tmpl.size() > limits.max_template) {
    return make_error(Errc::limit,
                      "the template is over " + std::to_string(limits.max_template) + " bytes");
  }
  Converter converter(limits, partials);
  auto converted = converter.convert(json::value(context), 0);
  if (!converted) return converted.error();
  mustache::data& data = *converted;
  const auto* given = data.get("mesh");
  mustache::data mesh =
      given && given->is_object() ? *given : mustache::data{mustache::data::type::object};
  add_helpers(mesh);
  data.set("mesh", std::move(mesh));
  if (partials) {
    for (const auto& [name, text] : *partials) {
      if (text.size() > limits.max_template) {
        return make_error(Errc::limit, "partial " + name + " is over " +
                                           std::to_string(limits.max_template) + " bytes");
      }
      data.set(name, mustache::partial{[text = text] { return text; }});
    }
  }

  mustache::mustache m{std::string(tmpl)};
  if (!m.is_valid()) return make_error(Errc::invalid, "template: " + m.error_message());
  m.set_custom_escape([](const std::string& s) { return html_escape(s); });
  std::string out;
  bool over = false;
  m.render(data, [&](const std::string& piece) {
    if (over) return;
    if (out.size() + piece.size() > limits.max_output) {
      over = true;
      return;
    }
    out += piece;
  });
  if (!m.is_valid()) return make_error(Errc::invalid, "template: " + m.error_message());
  if (over) {
    return make_error(Errc::limit,
                      "the rendered page is over " + std::to_string(limits.max_output) + " bytes");
  }
  return out;
}

Result<json::object> parse_context(std::string_view text, const RenderLimits& limits) {
  if (text.size() > limits.max_context) {
    return make_error(Errc::limit, "the template context is over " +
                                       std::to_string(limits.max_context) + " bytes");
  }
  if (text.empty()) return json::object();
  json::parse_options opts;
  opts.max_depth = limits.max_depth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) return make_error(Errc::invalid, "the template context is not JSON: " + ec.message());
  if (!v.is_object()) return make_error(Errc::invalid, "the template context must be an object");
  return std::move(v.as_object());
}

Result<std::string> render_json(std::string_view tmpl, std::string_view context_json,
                                const Partials* partials, const RenderLimits& limits) {
  auto ctx = parse_context(context_json, limits);
  if (!ctx) return ctx.error();
  return render(tmpl, *ctx, partials, limits);
}

}  // namespace mesh::web
