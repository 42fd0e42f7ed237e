// The web board's request handling (docs/issues.md, "The board"), free of the ABI: the plugin
// turns each call on its routes into a WebRequest and a WebResponse back into ui_respond (a
// page in the node's layout) or http_respond (fragments, JSON, redirects).
//
//   GET  /repos/{repo}/issues                 the board (?label=L&q=text&columns=a,b,c)
//   GET  /repos/{repo}/issues/new             the new-issue form
//   POST /repos/{repo}/issues                 create (form: title, body, labels)
//   GET  /repos/{repo}/issues/{id}            an issue
//   POST /repos/{repo}/issues/{id}/{action}   comment, edit, state, labels, assignees, move
//
// Forms answer 303 to the issue page once the change has come back through the feed; a fetch()
// with a JSON body gets JSON. The host enforces loopback, CSRF and same-origin on these
// routes (MESH_ROUTE_LOCAL) before a handler runs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actions.hpp"
#include "web_model.hpp"

namespace mesh::issues {

struct WebRequest {
  std::string method;
  std::string repo, id, action;  // the route's captures, percent-decoded
  std::string query;
  std::string body;
  std::string content_type;
};

struct WebResponse {
  bool page = true;  // true: ui_respond (layout) with title/body_html/scripts; false: raw
  std::uint32_t status = 200;
  std::string title, repo, body_html, scripts;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Answer once this node's event wait_seq has been taken (0: answer now).
  std::uint64_t wait_seq = 0;
  std::function<WebResponse(const Taken&)> finish;
};

// The host's template engine and markdown renderer (ui_render, markdown_render).
class Renderer {
 public:
  virtual ~Renderer() = default;
  virtual bool render(std::string_view tmpl, const std::string& context_json, std::string* out,
                      std::string* error) = 0;
  // false: no markdown renderer (the text is then shown escaped).
  virtual bool markdown(std::string_view text, std::string_view link_base, std::string* out) = 0;
};

class WebBoard {
 public:
  WebBoard(Service& service, Actions& actions, Renderer& renderer)
      : s_(service), a_(actions), r_(renderer) {}

  WebResponse handle(const WebRequest& req);

  // Rendered pieces (also used by the bench): the columns fragment and the whole board body.
  bool render_columns(const std::string& repo, const BoardQuery& q, std::string* html,
                      std::string* error);
  bool render_board(const std::string& repo, const BoardQuery& q, std::string* html,
                    std::string* error);

 private:
  WebResponse board(const WebRequest& req);
  WebResponse issue(const std::string& repo, const std::string& id, const std::string& flash,
                    std::uint32_t status);
  WebResponse new_form(const std::string& repo, const std::string& title, const std::string& body,
                       const std::string& labels, const std::string& flash, std::uint32_t status);
  WebResponse create(const WebRequest& req);
  WebResponse act(const WebRequest& req);
  WebResponse message(std::uint32_t status, const std::string& repo, const std::string& heading,
                      const std::string& text, const std::vector<Link>& links = {});
  WebResponse page(std::uint32_t status, const std::string& title, const std::string& repo,
                   const std::string& tmpl, const boost::json::object& ctx,
                   const std::string& scripts);
  bool render(const std::string& tmpl, const boost::json::object& ctx, std::string* out,
              std::string* error);
  std::string markdown(std::string_view text, const std::string& repo);

  Service& s_;
  Actions& a_;
  Renderer& r_;
};

// Raw responses carry these besides their Content-Type (pages get the layout's own).
std::vector<std::pair<std::string, std::string>> fragment_headers(std::string content_type);

}  // namespace mesh::issues
