// The ABI 1.3 web layer through the host table (test-ui): pages in the layout, templates,
// assets, navigation, markdown, SSE, pattern-route captures, every refusal, and the clean-up
// when the plugin stops.
#include "mesh/web/site.hpp"
#include "plugin_host_fixture.hpp"

namespace mesh::plugin::testing {
namespace {

class PluginUiTest : public PluginHostTest {
 protected:
  void SetUp() override {
    PluginHostTest::SetUp();
    web::SiteOptions o;
    o.version = "9.9.9";
    o.csrf = "csrf-token";
    o.node = [] { return web::NodeView{"alice", "mesh:abc", 1, 2}; };
    site_ = std::make_shared<web::Site>(std::move(o));
    make_manager([this](HostServices& s) { s.site = site_; });
    manager_->apply(enable({"test-ui"}));
    ASSERT_EQ(info("test-ui").state, "running") << info("test-ui").error;
  }

  static bool has_nav(const std::vector<web::NavEntry>& list, const std::string& label) {
    for (const auto& e : list)
      if (e.label == label) return true;
    return false;
  }

  std::shared_ptr<web::Site> site_;
};

TEST_F(PluginUiTest, PageInTheLayoutWithRenderedTemplate) {
  auto r = get("/ui-test");
  ASSERT_EQ(r.status, 200u) << r.body;
  // The layout: header with the node name, the plugin's nav entry, the footer version, the CSRF
  // meta, the core script first and then the plugin's.
  EXPECT_TRUE(contains(r.body, "<meta name=\"mesh-csrf\" content=\"csrf-token\">")) << r.body;
  EXPECT_TRUE(contains(r.body, "9.9.9"));
  EXPECT_TRUE(contains(r.body, "href=\"/ui-test\""));
  auto core_js = r.body.find("/assets/mesh.js"), own_js = r.body.find("/assets/test-ui/app.js");
  ASSERT_NE(core_js, std::string::npos);
  ASSERT_NE(own_js, std::string::npos);
  EXPECT_LT(core_js, own_js);
  // ui_render: escaped by default, the mesh object present, sections iterate.
  EXPECT_TRUE(contains(r.body, "<p id=\"who\">&lt;script&gt;alert(1)&lt;/script&gt;</p>"));
  EXPECT_FALSE(contains(r.body, "<script>alert(1)"));
  EXPECT_TRUE(contains(r.body, "<p id=\"node\">alice</p>"));
  EXPECT_TRUE(contains(r.body, "<li>1</li><li>2</li><li>3</li>"));
  bool csp = false;
  for (const auto& [n, v] : r.headers) csp = csp || (n == "Content-Security-Policy");
  EXPECT_TRUE(csp);
}

TEST_F(PluginUiTest, RepoPageWithCapturesTabsAndSafeMarkdown) {
  auto r = get("/repos/my-app/things/guide");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(contains(r.body, "href=\"/repos/my-app/things/readme\"")) << r.body;  // repo tab
  EXPECT_TRUE(contains(r.body, "Readme of guide"));
  EXPECT_TRUE(contains(r.body, "href=\"/repos/my-app/blob/main/docs/x.md\""));
  EXPECT_FALSE(contains(r.body, "javascript:"));

  // Captures reach a plugin handler in path order, a tail with its slashes.
  auto p = get("/ui-test/params/one/two/three");
  EXPECT_EQ(p.status, 200u);
  EXPECT_EQ(p.body, "a=one rest=two/three n=2\n");
}

TEST_F(PluginUiTest, AssetsAndNavigationGoWhenThePluginStops) {
  auto js = site_->assets().get("test-ui/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->data, "window.testUi = 1;\n");
  EXPECT_TRUE(contains(js->content_type, "javascript"));
  ASSERT_TRUE(site_->assets().get("test-ui/app.css"));
  EXPECT_TRUE(has_nav(site_->nav().entries(web::NavScope::node), "UI Test"));
  EXPECT_TRUE(has_nav(site_->nav().entries(web::NavScope::repo), "Things"));
  EXPECT_EQ(cli("ui-test", {"asset", "extra.txt", "text/plain", "x"}).output, "0");
  ASSERT_TRUE(site_->assets().get("test-ui/extra.txt"));

  manager_->apply(enable({}));
  EXPECT_EQ(info("test-ui").state, "stopped");
  EXPECT_FALSE(site_->assets().get("test-ui/app.js"));
  EXPECT_FALSE(site_->assets().get("test-ui/extra.txt"));
  EXPECT_FALSE(has_nav(site_->nav().entries(web::NavScope::node), "UI Test"));
  EXPECT_FALSE(has_nav(site_->nav().entries(web::NavScope::repo), "Things"));
  // The core's own entries and assets stay.
  EXPECT_TRUE(has_nav(site_->nav().entries(web::NavScope::node), "Node"));
  EXPECT_TRUE(site_->assets().get("mesh.css"));
}

TEST_F(PluginUiTest, EveryArgumentIsValidated) {
  auto code = [&](std::vector<std::string> args) {
    auto out = cli("ui-test", std::move(args)).output;
    return out.substr(0, out.find('\n'));
  };
  const std::string invalid = "-1", limit = "-4";  // MESH_E_INVALID, MESH_E_LIMIT
  // Asset names: the name part only, [a-z0-9][a-z0-9._-]{0,63}.
  EXPECT_EQ(code({"asset", "../x.js", "", "x"}), invalid);
  EXPECT_EQ(code({"asset", "Upper.js", "", "x"}), invalid);
  EXPECT_EQ(code({"asset", "a/b.js", "", "x"}), invalid);
  EXPECT_EQ(code({"asset", std::string(65, 'a'), "", "x"}), invalid);
  EXPECT_EQ(code({"asset", "x.js", "text/plain\r\nX: y", "x"}), invalid);
  EXPECT_EQ(code({"big", "asset"}), limit);
  EXPECT_FALSE(site_->assets().get("test-ui/big.txt"));
  // Navigation: scope, label, href.
  EXPECT_EQ(code({"nav", "side", "X", "/x"}), invalid);
  EXPECT_EQ(code({"nav", "node", "", "/x"}), invalid);
  EXPECT_EQ(code({"nav", "node", "X", "//evil.example"}), invalid);
  EXPECT_EQ(code({"nav", "node", "X", "javascript:alert(1)"}), invalid);
  EXPECT_EQ(code({"nav", "node", "X", "/x\" onclick=\"y"}), invalid);
  // SSE: channel and event grammar, data size.
  EXPECT_EQ(code({"sse", "Bad Channel", "e", "d"}), invalid);
  EXPECT_EQ(code({"sse", "test-ui", "", "d"}), invalid);
  EXPECT_EQ(code({"big", "sse"}), limit);
  EXPECT_EQ(code({"sse", "test-ui/x", "ping", "line 1\nline 2"}), "0");
  // Templates: malformed, a context that is not an object, escaping.
  EXPECT_EQ(code({"render", "{{#open}}", "{}"}), invalid);
  EXPECT_EQ(code({"render", "{{a}}", "[1]"}), invalid);
  EXPECT_EQ(cli("ui-test", {"render", "{{a}}|{{{a}}}", R"({"a":"<b>"})"}).output,
            "0\n&lt;b&gt;|<b>");
  // Markdown: raw HTML is dropped.
  auto md = cli("ui-test", {"markdown", "hi <script>alert(1)</script>"}).output;
  EXPECT_EQ(md.substr(0, 2), "0\n");
  EXPECT_FALSE(contains(md, "<script>"));
}

// A daemon without a web layer: the calls answer MESH_E_UNSUPPORTED, and test-ui (which needs
// them) fails to start with that reason.
TEST_F(PluginHostTest, WithoutASiteTheWebCallsAreUnsupported) {
  make_manager();
  manager_->apply(enable({"test-ui"}));
  auto i = info("test-ui");
  EXPECT_EQ(i.state, "failed");
  EXPECT_TRUE(contains(i.error, "asset refused: -6")) << i.error;  // MESH_E_UNSUPPORTED
}

}  // namespace
}  // namespace mesh::plugin::testing
