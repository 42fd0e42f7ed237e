// The Site: embedded core assets (incl. Debian's Sortable.js byte for byte), templates with
// the "mesh" context, pages in the layout with the security headers, periodic publishers, and
// the CSRF token derived from the node key.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "mesh/web/csrf.hpp"
#include "mesh/web/site.hpp"
#include "web_test_server.hpp"

using namespace mesh;
using namespace mesh::web;
using mesh::test::curl;
using namespace std::chrono_literals;

namespace {

SiteOptions options() {
  SiteOptions o;
  o.version = "1.2.3";
  o.csrf = "csrf-token";
  o.node = [] { return NodeView{"alice", "mesh:abc", 1, 2}; };
  return o;
}

std::string header(const http::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "<absent>";
}

}  // namespace

TEST(WebSite, EmbedsTheCoreAssets) {
  Site site(options());
  for (const char* name : {"mesh.css", "mesh.js", "sortable.js", "favicon.svg"}) {
    auto a = site.assets().get(name);
    ASSERT_TRUE(a) << name;
    EXPECT_FALSE(a->data.empty()) << name;
  }
  EXPECT_EQ(site.assets().get("mesh.css")->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(site.assets().get("sortable.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_FALSE(site.assets().get("layout.mustache")) << "templates are not served";
  // Sortable.js is Debian's file, copied at build time.
  std::ifstream f("/usr/share/javascript/sortable/Sortable.min.js", std::ios::binary);
  std::ostringstream debian;
  debian << f.rdbuf();
  EXPECT_EQ(site.assets().get("sortable.js")->data, debian.str());
  EXPECT_EQ(embedded("layout.mustache").substr(0, 15), "<!doctype html>");
  EXPECT_TRUE(embedded("no-such-file").empty());
}

TEST(WebSite, RenderJsonAddsTheMeshContext) {
  Site site(options());
  auto r = site.render_json("{{mesh.node}}|{{mesh.id}}|{{mesh.version}}|{{mesh.csrf}}|{{x}}",
                            R"({"x":"<i>","mesh":{"node":"forged"}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "alice|mesh:abc|1.2.3|csrf-token|&lt;i&gt;");
  EXPECT_FALSE(site.render_json("{{#x}}", "{}"));
  EXPECT_FALSE(site.render_json("x", "[]"));
  auto missing = site.render_embedded("nope", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

TEST(WebSite, PageInTheLayoutWithHeaders) {
  Site site(options());
  Page p;
  p.status = 404;
  p.title = "Not <here>";
  p.body_html = "<p>gone</p>";
  auto res = site.page(p);
  EXPECT_EQ(res.status, 404u);
  EXPECT_EQ(header(res, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(header(res, "Cache-Control"), "no-store");
  EXPECT_NE(header(res, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_NE(res.body.find("<title>Not &lt;here&gt; · mesh</title>"), std::string::npos);
  EXPECT_NE(res.body.find("<p>gone</p>"), std::string::npos);
  EXPECT_NE(res.body.find("content=\"csrf-token\""), std::string::npos);
  EXPECT_NE(res.body.find(">Node</a>"), std::string::npos) << "the core's nav entry";
  // A bad script list is a 500 with a reason, not a broken page.
  p.scripts = {"https://cdn.example.com/x.js"};
  auto bad = site.page(p);
  EXPECT_EQ(bad.status, 500u);
  EXPECT_NE(bad.body.find("/assets/"), std::string::npos);
}

TEST(WebSite, RoutesOnARealServer) {
  mesh::test::WebServer server;
  auto site = std::make_unique<Site>(options());
  site->register_routes(server.router);
  ASSERT_EQ(server.start(), "");
  auto css = curl({server.http("/assets/mesh.css")});
  EXPECT_EQ(css.status, 200);
  EXPECT_NE(css.body.find("prefers-color-scheme: dark"), std::string::npos);
  EXPECT_EQ(curl({server.http("/assets/sortable.js")}).status, 200);
  EXPECT_EQ(curl({server.http("/events")}).status, 400) << "the SSE route is there";
  site->stop();
  server.stop();
  site.reset();  // removes its routes
  EXPECT_TRUE(std::holds_alternative<http::Router::Miss>(server.router->find("GET", "/assets/x")));
}

TEST(WebSite, EveryRunsUntilStop) {
  Site site(options());
  std::atomic<int> fast{0}, slow{0};
  site.every(10ms, [&] { ++fast; });
  site.every(1h, [&] { ++slow; });
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (fast < 3 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(5ms);
  EXPECT_GE(fast.load(), 3);
  EXPECT_EQ(slow.load(), 0);
  site.stop();
  const int after = fast.load();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(fast.load(), after) << "nothing runs once stop() returned";
}

TEST(WebCsrf, StablePerNodeDifferentAcrossNodesNeverEmpty) {
  auto dir = std::filesystem::temp_directory_path() / ("mesh-csrf-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::string first;
  {
    auto id = identity::Identity::load_or_create(dir);
    ASSERT_TRUE(id) << id.error().message;
    first = CsrfToken(*id).value();
  }
  auto again = identity::Identity::load_or_create(dir);  // as after a restart
  ASSERT_TRUE(again);
  CsrfToken token(*again);
  EXPECT_EQ(token.value(), first);
  EXPECT_EQ(first.size(), 43u);  // base64url of 32 bytes
  EXPECT_NE(CsrfToken(identity::Identity::generate()).value(), first);
  // Not the key itself or anything else derived from it for another purpose.
  EXPECT_NE(again->derive_secret("web-csrf"), again->derive_secret("other"));
  EXPECT_TRUE(token.matches(first));
  EXPECT_FALSE(token.matches(""));
  EXPECT_FALSE(token.matches(first.substr(1)));
  std::string flipped = first;
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(token.matches(flipped));
  std::filesystem::remove_all(dir);
}
