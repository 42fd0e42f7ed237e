// The layout around every page: what the header, navigation, tabs, footer and script list
// contain, that every string in them is escaped, and the security headers.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "mesh/web/layout.hpp"

using namespace mesh;
using namespace mesh::web;

namespace {

bool has(const std::string& s, std::string_view what) {
  return s.find(what) != std::string::npos;
}

Frame frame() {
  Frame f;
  f.node_name = "alice";
  f.node_id = "mesh:abcdefghijklmnopqrstuvwxyz";
  f.version = "9.8.7";
  f.csrf = "tok-123_ABC";
  f.peers_up = 1;
  f.peers_total = 2;
  f.node_nav = {{"Node", "/", "core"}, {"Issues", "/issues", "issues"}};
  f.repo_tabs = {{"Code", "/repos/{repo}", "replication"}, {"CI", "/repos/{repo}/ci", "ci"}};
  return f;
}

std::string layout(const Page& p, const Frame& f = frame()) {
  auto r = render_layout(p, f);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : std::string();
}

}  // namespace

TEST(WebLayout, HeaderNavFooterMetaAndBody) {
  Page p;
  p.title = "Status";
  p.tab = "Node";
  p.body_html = "<p id=\"b\">body</p>";
  auto html = layout(p);
  EXPECT_TRUE(html.starts_with("<!doctype html>"));
  EXPECT_TRUE(has(html, "<title>Status · mesh</title>"));
  EXPECT_TRUE(has(html, "<meta name=\"mesh-csrf\" content=\"tok-123_ABC\">"));
  EXPECT_TRUE(has(html, "<span class=\"node-name\" id=\"node-name\">alice</span>"));
  EXPECT_TRUE(has(html, "1 of 2 peers up")) << "the indicator SVG";
  EXPECT_TRUE(has(html, "1/2 peers up"));
  EXPECT_TRUE(has(html, "<a href=\"/\" class=\"active\" aria-current=\"page\">Node</a>")) << html;
  EXPECT_TRUE(has(html, "<a href=\"/issues\">Issues</a>"));
  EXPECT_TRUE(has(html, "<p id=\"b\">body</p>"));
  EXPECT_TRUE(has(html, "mesh 9.8.7"));
  EXPECT_TRUE(has(html, "abcdefghijkl"));  // the short id in the footer
  EXPECT_TRUE(has(html, "<link rel=\"stylesheet\" href=\"/assets/mesh.css\">"));
  EXPECT_TRUE(has(html, "<script src=\"/assets/mesh.js\"></script>"));
  EXPECT_TRUE(has(html, "data-mesh-sse=\"node\"")) << "every page follows the node channel";
  EXPECT_FALSE(has(html, "class=\"repo-header\"")) << "no repo: no tabs";
  // No inline script or style anywhere in the layout.
  EXPECT_FALSE(has(html, "<script>"));
  EXPECT_FALSE(has(html, "style="));
  EXPECT_FALSE(std::regex_search(html, std::regex("\\son[a-z]+=")))
      << "no event handler attributes";
}

TEST(WebLayout, RepoTabsWithTheRepoFilledIn) {
  Page p;
  p.title = "CI";
  p.repo = "my-app";
  p.tab = "CI";
  auto html = layout(p);
  EXPECT_TRUE(has(html, "<h1 class=\"repo-title\"><a href=\"/repos/my-app\">my-app</a></h1>"));
  EXPECT_TRUE(has(html, "<a href=\"/repos/my-app\">Code</a>")) << html;
  EXPECT_TRUE(
      has(html, "<a href=\"/repos/my-app/ci\" class=\"active\" aria-current=\"page\">CI</a>"))
      << html;
  // A repo page does not highlight the node entry of the same label.
  EXPECT_FALSE(has(html, "class=\"active\" aria-current=\"page\">Node"));
}

TEST(WebLayout, EveryStringIsEscaped) {
  Frame f = frame();
  f.node_name = "<script>alert('n')</script>";
  f.csrf = "\"><script>";
  f.node_nav.push_back({"<b>x</b>", "/x", "p"});
  Page p;
  p.title = "</title><script>alert(1)</script>";
  p.repo = "a\"b<c";
  p.tab = "CI";
  auto html = layout(p, f);
  EXPECT_FALSE(has(html, "<script>alert")) << html;
  EXPECT_FALSE(has(html, "\"><script>"));
  EXPECT_FALSE(has(html, "<b>x</b>"));
  EXPECT_TRUE(has(html, "&lt;script&gt;alert(&#39;n&#39;)&lt;/script&gt;"));
  EXPECT_TRUE(has(html, "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; · mesh"));
  // The repo name is percent-encoded inside paths and escaped as text.
  EXPECT_TRUE(has(html, "href=\"/repos/a%22b%3Cc/ci\"")) << html;
  EXPECT_TRUE(has(html, ">a&quot;b&lt;c</a>"));
}

TEST(WebLayout, ScriptsAreAssetPathsOnly) {
  Page p;
  p.scripts = split_scripts(" /assets/sortable.js  /assets/issues/board.js\n/assets/mesh.js ");
  ASSERT_EQ(p.scripts.size(), 3u);
  auto html = layout(p);
  const auto mesh = html.find("/assets/mesh.js");
  const auto sortable = html.find("/assets/sortable.js");
  const auto board = html.find("/assets/issues/board.js");
  ASSERT_NE(sortable, std::string::npos);
  ASSERT_NE(board, std::string::npos);
  EXPECT_LT(mesh, sortable);  // mesh.js first, each once
  EXPECT_LT(sortable, board);
  EXPECT_EQ(html.find("/assets/mesh.js", mesh + 1), std::string::npos);
  for (const char* bad :
       {"https://cdn.example.com/x.js", "/assets/../etc", "//evil/x.js", "/other/x.js",
        "/assets/x.js\" onload=\"y", "javascript:alert(1)", "/assets/"}) {
    Page q;
    q.scripts = {bad};
    auto r = render_layout(q, frame());
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid);
  }
}

TEST(WebLayout, SecurityHeaders) {
  auto find = [](const Headers& h, const std::string& name) -> std::string {
    for (const auto& [k, v] : h) {
      if (k == name) return v;
    }
    return "<absent>";
  };
  auto page = security_headers(Content::page);
  EXPECT_EQ(find(page, "Content-Security-Policy"),
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
  EXPECT_EQ(find(page, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(find(page, "Referrer-Policy"), "same-origin");
  EXPECT_EQ(find(page, "Cache-Control"), "no-store");
  EXPECT_EQ(find(security_headers(Content::stream), "Cache-Control"), "no-store");
  EXPECT_EQ(find(security_headers(Content::asset), "Cache-Control"), "<absent>");
  EXPECT_EQ(find(security_headers(Content::asset), "X-Content-Type-Options"), "nosniff");
}

TEST(WebNav, ValidatesAndReplacesAndRemovesByOwner) {
  Nav nav;
  EXPECT_TRUE(nav.add("node", "Issues", "/issues", "issues"));
  EXPECT_TRUE(nav.add("repo", "CI", "/repos/{repo}/ci", "ci"));
  EXPECT_TRUE(nav.add("repo", "Issues", "/repos/{repo}/issues", "issues"));
  EXPECT_TRUE(nav.add("repo", "CI", "/repos/{repo}/pipelines", "ci"));  // replaces
  auto tabs = nav.entries(NavScope::repo);
  ASSERT_EQ(tabs.size(), 2u);
  EXPECT_EQ(tabs[0].label, "CI");
  EXPECT_EQ(tabs[0].href, "/repos/{repo}/pipelines");
  nav.remove_owner("issues");
  EXPECT_TRUE(nav.entries(NavScope::node).empty());
  ASSERT_EQ(nav.entries(NavScope::repo).size(), 1u);

  EXPECT_EQ(nav.add("site", "X", "/x", "p").error().code, Errc::invalid);
  for (const char* href : {"", "x", "//evil.example", "javascript:alert(1)", "/a b", "/a\"b",
                           "/a<b", "/a\\b", "/a\nb"}) {
    EXPECT_FALSE(nav.add("node", "X", href, "p")) << href;
  }
  EXPECT_FALSE(nav.add("node", "", "/x", "p"));
  EXPECT_FALSE(nav.add("node", std::string(41, 'x'), "/x", "p"));
  EXPECT_FALSE(nav.add("node", "a\tb", "/x", "p"));
  EXPECT_FALSE(nav.add("node", "X", "/" + std::string(256, 'x'), "p"));
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(nav.add("node", "e" + std::to_string(i), "/e", "p"));
  }
  auto full = nav.add("node", "one-more", "/e", "p");
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, Errc::limit);
}
