// The web status page. Local clients only (Access::local): the UI is the user's own.
#include <string>

#include "daemon.hpp"

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

}  // namespace

void register_core_routes(Daemon& d) {
  http::RouteOptions opts;
  opts.access = http::Access::local;
  opts.max_body = 0;
  opts.exact = true;  // plugins serve the paths below "/" (e.g. /<repo>.git/...)
  d.router->add("GET", "/", opts, [&d](http::Request&&, http::Responder respond) {
    std::string name;
    {
      std::lock_guard lock(d.mu);
      name = d.config.node.name;
    }
    std::string page =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>mesh · " + html_escape(name) +
        "</title></head><body><h1>mesh node " + html_escape(name) + "</h1><p><code>" +
        html_escape(d.key.id()) + "</code> listening on " + html_escape(d.listen) +
        "</p><h2>Plugins</h2><table><tr><th>id</th><th>version</th><th>state</th><th>error</th>"
        "</tr>";
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
    respond(std::move(res));
  });
}

}  // namespace mesh::app
