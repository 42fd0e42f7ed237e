// test-ui: exercises the ABI 1.3 web layer through the raw host table (plugin.hpp has no
// wrappers for it), for the host's unit and integration tests.
//   at start   ui_asset app.js and app.css; ui_nav node "UI Test" -> /ui-test, repo "Things"
//              -> /repos/{repo}/things/readme
//   GET /ui-test                      (local) a page in the layout: a template rendered with
//                                     ui_render (user text escaped), script /assets/test-ui/app.js
//   GET /repos/{repo}/things/{thing}  (local) a repo page (tab "Things") with both captures and
//                                     markdown_render of a README with an unsafe link
//   GET /ui-test/params/{a}/{rest...} plain text "a=<a> rest=<rest> n=<param_count>"
//   mesh ui-test CALL ARGS...         calls one host function with the given arguments and
//                                     prints its status code (then any output):
//                                     render TMPL JSON | asset NAME TYPE DATA | nav SCOPE LABEL
//                                     HREF | markdown TEXT | sse CHANNEL EVENT DATA
#include <cstdio>
#include <string>
#include <string_view>

#include "mesh/plugin.hpp"

namespace {

using mesh::sdk::view;

void append(void* user, const char* data, size_t len) {
  static_cast<std::string*>(user)->append(data, len);
}

class Ui : public mesh::sdk::Plugin {
 public:
  void start() override {
    h_ = host().raw();
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, sse_publish) || !h_->ui_respond)
      throw mesh::sdk::Error(MESH_E_UNSUPPORTED, "no web layer (ABI 1.3)");
    check(h_->ui_asset(h_->ctx, view("app.js"), view(""), view("window.testUi = 1;\n")), "asset");
    check(h_->ui_asset(h_->ctx, view("app.css"), view(""), view(".test-ui { color: red }\n")),
          "asset");
    check(h_->ui_nav(h_->ctx, view("node"), view("UI Test"), view("/ui-test")), "nav");
    check(h_->ui_nav(h_->ctx, view("repo"), view("Things"), view("/repos/{repo}/things/readme")),
          "nav");
    route(
        "GET", "/ui-test",
        [this](const mesh::sdk::HttpRequest& r) {
          std::string body;
          std::string ctx = "{\"who\":\"<script>alert(1)</script>\",\"items\":[1,2,3]}";
          std::string tmpl =
              "<div class=\"box\"><p id=\"who\">{{who}}</p><p id=\"node\">{{mesh.node}}</p>"
              "<ul>{{#items}}<li>{{.}}</li>{{/items}}</ul></div>";
          int32_t rc = h_->ui_render(h_->ctx, view(tmpl), view(ctx), &append, &body, nullptr, 0);
          if (rc != MESH_OK) body = "render failed " + std::to_string(rc);
          page(r.call_id(), 200, "UI test", "", "UI Test", body, "/assets/test-ui/app.js");
        },
        0, MESH_ROUTE_LOCAL);
    route(
        "GET", "/repos/{repo}/things/{thing}",
        [this](const mesh::sdk::HttpRequest& r) {
          std::string md;
          std::string text = "# Readme of " + std::string(r.param("thing")) +
                             "\n\n[bad](javascript:alert(1)) [rel](docs/x.md)\n";
          std::string base = "/repos/" + std::string(r.param("repo")) + "/blob/main/";
          int32_t rc = h_->markdown_render(h_->ctx, view(text), view(base), view(""), &append, &md);
          if (rc != MESH_OK) md = "markdown failed " + std::to_string(rc);
          page(r.call_id(), 200, "Things", r.param("repo"), "Things",
               "<div class=\"markdown-body\">" + md + "</div>", "");
        },
        0, MESH_ROUTE_LOCAL);
    route("GET", "/ui-test/params/{a}/{rest...}", [](const mesh::sdk::HttpRequest& r) {
      size_t n = MESH_HAS_FIELD(r.raw(), mesh_http_request, param_count) ? r.raw()->param_count : 0;
      r.respond(mesh::sdk::HttpResponse::text(200, "a=" + std::string(r.param("a")) +
                                                       " rest=" + std::string(r.param("rest")) +
                                                       " n=" + std::to_string(n) + "\n"));
    });
    verb("ui-test", "call a web-layer host function (test plugin)",
         [this](const mesh::sdk::CliRequest& c) { call(c); });
  }

 private:
  static void check(int32_t rc, const char* what) {
    if (rc != MESH_OK)
      throw mesh::sdk::Error(rc, std::string(what) + " refused: " + std::to_string(rc));
  }

  void page(uint64_t call, uint32_t status, std::string_view title, std::string_view repo,
            std::string_view tab, const std::string& body, std::string_view scripts) const {
    mesh_ui_page p{};
    p.struct_size = sizeof p;
    p.status = status;
    p.title = view(title);
    p.repo = view(repo);
    p.tab = view(tab);
    p.body_html = view(body);
    p.scripts = view(scripts);
    h_->ui_respond(h_->ctx, call, &p);
  }

  void call(const mesh::sdk::CliRequest& c) const {
    const auto& a = c.args();
    auto arg = [&](size_t i) { return i < a.size() ? a[i] : std::string_view(); };
    std::string what(arg(0)), out;
    int32_t rc = MESH_E_INVALID;
    if (what == "render") {
      char err[MESH_ERR_CAP] = {0};
      rc = h_->ui_render(h_->ctx, view(arg(1)), view(arg(2)), &append, &out, err, sizeof err);
      if (rc != MESH_OK) out = err;
    } else if (what == "asset") {
      rc = h_->ui_asset(h_->ctx, view(arg(1)), view(arg(2)), view(arg(3)));
    } else if (what == "nav") {
      rc = h_->ui_nav(h_->ctx, view(arg(1)), view(arg(2)), view(arg(3)));
    } else if (what == "markdown") {
      rc = h_->markdown_render(h_->ctx, view(arg(1)), view(""), view(""), &append, &out);
    } else if (what == "sse") {
      rc = h_->sse_publish(h_->ctx, view(arg(1)), view(arg(2)), view(arg(3)));
    } else if (what == "big") {  // a value over a limit: asset of 4 MiB + 1, sse data of 64 KiB + 1
      std::string big(arg(1) == "asset" ? (4u << 20) + 1 : (64u << 10) + 1, 'x');
      rc = arg(1) == "asset" ? h_->ui_asset(h_->ctx, view("big.txt"), view(""), view(big))
                             : h_->sse_publish(h_->ctx, view("test-ui"), view("big"), view(big));
    }
    c.reply(0, std::to_string(rc) + (out.empty() ? "" : "\n" + out));
  }

  const mesh_host* h_ = nullptr;
};

}  // namespace

MESH_PLUGIN(Ui, "test-ui", "1.0.0");
