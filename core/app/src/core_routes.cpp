// The web status page. Local clients only (Access::local): the UI is the user's own.
#include <string>

#include <boost/json.hpp>
#include <optional>

#include "daemon.hpp"
#include "plugin_views.hpp"

namespace mesh::app {
namespace {

std::string html_escape(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
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

std::string str(const boost::json::value* v) {
  if (!v) return {};
  if (auto* s = v->if_string()) return std::string(*s);
  return boost::json::serialize(*v);
}

// Peers up/down, repos with their branches and divergences (with the commands that resolve
// them), plugins.
http::Response status_page(const Daemon& d, const std::optional<boost::json::value>& repos) {
  namespace json = boost::json;
  std::string name;
  {
    std::lock_guard lock(d.mu);
    name = d.config.node.name;
  }
  std::string page = "<!doctype html><html><head><meta charset=\"utf-8\"><title>mesh · " +
                     html_escape(name) + "</title></head><body><h1>mesh node " + html_escape(name) +
                     "</h1><p><code>" + html_escape(d.key.id()) + "</code> listening on " +
                     html_escape(d.listen) + "</p>";
  page += "<h2>Peers</h2><table id=\"peers\"><tr><th>name</th><th>state</th><th>id</th></tr>";
  for (const auto& p : d.team->peers_json()) {
    const auto& o = p.as_object();
    page += "<tr class=\"peer " + html_escape(str(o.if_contains("state"))) + "\"><td>" +
            html_escape(str(o.if_contains("name"))) + "</td><td>" +
            html_escape(str(o.if_contains("state"))) + "</td><td><code>" +
            html_escape(str(o.if_contains("id"))) + "</code></td></tr>";
  }
  page += "</table><h2>Repos</h2>";
  if (!repos || !repos->is_array()) {
    page += "<p>Replication is not running.</p>";
  } else if (repos->as_array().empty()) {
    page += "<p>No repos yet. Push one: <code>git push https://localhost:" +
            html_escape(d.listen.substr(d.listen.rfind(':') + 1)) + "/NAME.git main</code></p>";
  }
  for (const auto& r : repos && repos->is_array() ? repos->as_array() : json::array{}) {
    const auto* o = r.if_object();
    if (!o) continue;
    page += "<h3 class=\"repo\">" + html_escape(str(o->if_contains("name"))) +
            "</h3><table><tr><th>ref</th><th>commit</th></tr>";
    if (auto* refs = o->if_contains("refs"); refs && refs->is_object()) {
      for (const auto& [ref, oid] : refs->as_object()) {
        page += "<tr><td>" + html_escape(ref) + "</td><td><code>" + html_escape(str(&oid)) +
                "</code></td></tr>";
      }
    }
    page += "</table>";
    if (auto* divs = o->if_contains("divergences"); divs && divs->is_array()) {
      for (const auto& dv : divs->as_array()) {
        const auto* x = dv.if_object();
        if (!x) continue;
        page += "<p class=\"divergence\"><strong>" + html_escape(str(x->if_contains("ref"))) +
                "</strong> diverged from " + html_escape(str(x->if_contains("node"))) +
                " (their tip parked as <code>" + html_escape(str(x->if_contains("parked_as"))) +
                "</code>). Merge it: <code>" + html_escape(str(x->if_contains("resolve"))) +
                "</code></p>";
      }
    }
  }
  page += "<h2>Plugins</h2><table><tr><th>id</th><th>version</th><th>state</th><th>error</th></tr>";
  for (const auto& p : d.plugins->list()) {
    page += "<tr><td>" + html_escape(p.id) + "</td><td>" + html_escape(p.version) + "</td><td>" +
            html_escape(p.state) + "</td><td>" + html_escape(p.error) + "</td></tr>";
  }
  page += "</table></body></html>\n";
  http::Response res;
  res.status = 200;
  res.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
  res.headers.emplace_back("Content-Security-Policy", "default-src 'self'");
  res.body = std::move(page);
  return res;
}

}  // namespace

void register_core_routes(Daemon& d) {
  http::RouteOptions opts;
  opts.access = http::Access::local;
  opts.max_body = 0;
  opts.exact = true;  // plugins serve the paths below "/" (e.g. /<repo>.git/...)
  d.router->add("GET", "/", opts, [&d](http::Request&&, http::Responder respond) {
    ask_plugin(d, "repos", {}, [&d, respond](std::optional<boost::json::value> repos) {
      respond(status_page(d, repos));
    });
  });
}

}  // namespace mesh::app
