// The mustache renderer: escaping by default (all of & < > " '), raw only with {{{ }}},
// limits and malformed templates as error values, the built-in SVG helpers, and the guards
// against data being parsed as a template.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mesh/web/render.hpp"

using namespace mesh;
using namespace mesh::web;
namespace json = boost::json;

namespace {

std::string ok(Result<std::string> r) {
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : std::string();
}

}  // namespace

TEST(WebRender, EscapesEveryHtmlMetacharacterIncludingApostrophe) {
  const std::string evil = R"(<script>alert("x")</script> & 'q' onerror=)";
  const std::string escaped =
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; onerror=";
  auto out = ok(render("<p title='{{v}}'>{{v}}</p>", json::object{{"v", evil}}));
  EXPECT_EQ(out, "<p title='" + escaped + "'>" + escaped + "</p>");
  EXPECT_EQ(html_escape("&<>\"'"), "&amp;&lt;&gt;&quot;&#39;");
  EXPECT_EQ(html_escape("plain text"), "plain text");
  // Each metacharacter on its own, also in names looked up through sections.
  for (std::string c : {"&", "<", ">", "\"", "'"}) {
    auto one = ok(render("{{#s}}{{v}}{{/s}}", json::object{{"s", json::object{{"v", c}}}}));
    EXPECT_EQ(one, html_escape(c));
    EXPECT_NE(one, c);
  }
}

TEST(WebRender, TripleMustacheIsRawAndAmpersandTooButOnlyWhenAsked) {
  auto out = ok(render("{{{html}}}|{{&html}}|{{html}}", json::object{{"html", "<b>x</b>"}}));
  EXPECT_EQ(out, "<b>x</b>|<b>x</b>|&lt;b&gt;x&lt;/b&gt;");
}

TEST(WebRender, SectionsListsNumbersAndBooleans) {
  json::object ctx{{"items", json::array{json::object{{"n", "a"}, {"k", 1}},
                                         json::object{{"n", "b<"}, {"k", 2.5}}}},
                   {"yes", true},
                   {"no", false},
                   {"nothing", nullptr},
                   {"empty", json::array{}},
                   {"big", std::uint64_t{18446744073709551615u}}};
  auto out =
      ok(render("{{#items}}[{{n}}={{k}}]{{/items}}{{#yes}}Y{{/yes}}{{#no}}N{{/no}}{{^no}}!N{{/no}}"
                "{{#nothing}}X{{/nothing}}{{^empty}}E{{/empty}}{{big}}",
                ctx));
  EXPECT_EQ(out, "[a=1][b&lt;=2.5]Y!NE18446744073709551615");
}

TEST(WebRender, DottedNamesAndParentLookup) {
  json::object ctx{{"repo", json::object{{"name", "app"}}},
                   {"title", "T"},
                   {"list", json::array{json::object{{"x", 1}}}}};
  EXPECT_EQ(ok(render("{{repo.name}}{{#list}}{{title}}{{x}}{{/list}}", ctx)), "appT1");
}

TEST(WebRender, MalformedTemplateIsAnErrorValue) {
  auto r = render("{{#open}} never closed", json::object{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid);
  EXPECT_NE(r.error().message.find("template"), std::string::npos);
  auto r2 = render("{{#a}}{{/b}}", json::object{});
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::invalid);
}

TEST(WebRender, TemplateLimit) {
  RenderLimits limits;
  limits.max_template = 64;
  EXPECT_TRUE(render(std::string(64, 'x'), json::object{}, nullptr, limits));
  auto r = render(std::string(65, 'x'), json::object{}, nullptr, limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit);
  // The default is 256 KiB.
  EXPECT_TRUE(render(std::string(256 * 1024, 'x'), json::object{}));
  EXPECT_FALSE(render(std::string(256 * 1024 + 1, 'x'), json::object{}));
}

TEST(WebRender, ContextLimitCountsKeysAndValuesAndDepth) {
  RenderLimits limits;
  limits.max_context = 100;
  EXPECT_TRUE(render("{{a}}", json::object{{"a", std::string(90, 'v')}}, nullptr, limits));
  auto r = render("{{a}}", json::object{{"a", std::string(101, 'v')}}, nullptr, limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit);
  // Many small entries add up too.
  json::array many;
  for (int i = 0; i < 60; ++i) many.push_back("xy");
  EXPECT_FALSE(render("{{#l}}{{.}}{{/l}}", json::object{{"l", many}}, nullptr, limits));

  limits = RenderLimits{};
  limits.max_depth = 3;
  json::value deep = json::object{{"a", json::object{{"b", json::object{{"c", 1}}}}}};
  EXPECT_TRUE(render("{{a.b.c}}", deep.as_object(), nullptr, limits));
  json::value deeper =
      json::object{{"a", json::object{{"b", json::object{{"c", json::array{1}}}}}}};
  EXPECT_FALSE(render("{{a.b.c}}", deeper.as_object(), nullptr, limits));
}

TEST(WebRender, JsonContextLimitsAndShape) {
  EXPECT_EQ(ok(render_json("{{a}}", R"({"a":"<x>"})")), "&lt;x&gt;");
  EXPECT_EQ(ok(render_json("plain", "")), "plain");
  auto not_object = render_json("x", "[1,2]");
  ASSERT_FALSE(not_object);
  EXPECT_EQ(not_object.error().code, Errc::invalid);
  auto not_json = render_json("x", "{nope");
  ASSERT_FALSE(not_json);
  EXPECT_EQ(not_json.error().code, Errc::invalid);
  RenderLimits limits;
  limits.max_context = 10;
  auto big = render_json("x", R"({"a":"0123456789"})", nullptr, limits);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::limit);
  // Deeper than the default depth limit of 64 fails in the parser, not on the stack.
  std::string deep(200, '[');
  deep = "{\"a\":" + deep + std::string(200, ']') + "}";
  EXPECT_FALSE(render_json("x", deep));
}

TEST(WebRender, OutputLimitReturnsNothingPartial) {
  RenderLimits limits;
  limits.max_output = 1000;
  json::array rows;
  for (int i = 0; i < 200; ++i) rows.push_back(json::object{{"v", "0123456789"}});
  auto r = render("{{#rows}}{{v}}\n{{/rows}}", json::object{{"rows", rows}}, nullptr, limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit);
  limits.max_output = 200 * 11;
  EXPECT_TRUE(render("{{#rows}}{{v}}\n{{/rows}}", json::object{{"rows", rows}}, nullptr, limits));
}

TEST(WebRender, PartialsRenderAndDataCannotPoseAsAPartial) {
  Partials partials{{"partials/row", "<li>{{name}}</li>"}};
  json::object ctx{{"items", json::array{json::object{{"name", "a&b"}}}}};
  EXPECT_EQ(ok(render("<ul>{{#items}}{{> partials/row}}{{/items}}</ul>", ctx, &partials)),
            "<ul><li>a&amp;b</li></ul>");
  // kainjow would take a string under the partial's name as template text: the key is dropped
  // at every depth, so the user's "{{{evil}}}" is never parsed.
  json::object hostile{
      {"items", json::array{json::object{{"name", "x"}, {"partials/row", "{{{evil}}}"}}}},
      {"evil", "<script>alert(1)</script>"}};
  auto out = ok(render("{{#items}}{{> partials/row}}{{/items}}", hostile, &partials));
  EXPECT_EQ(out, "<li>x</li>");
  // Without partials, an unknown partial renders nothing.
  EXPECT_EQ(ok(render("a{{> nope}}b", json::object{})), "ab");
}

TEST(WebRender, SparklineAndPeersHelpersTakeNumbersOnly) {
  auto spark = ok(render("{{#mesh.sparkline}}{{counts}}{{/mesh.sparkline}}",
                         json::object{{"counts", "1,0,3"}}));
  EXPECT_TRUE(spark.starts_with("<svg class=\"sparkline\"")) << spark;
  EXPECT_NE(spark.find("4 commits in 3 days"), std::string::npos);
  // A string that is not a list of counts draws nothing, and never leaks into the markup.
  EXPECT_EQ(ok(render("{{#mesh.sparkline}}{{counts}}{{/mesh.sparkline}}",
                      json::object{{"counts", "1,<script>"}})),
            "");
  auto peers =
      ok(render("{{#mesh.peers}}{{u}}/{{t}}{{/mesh.peers}}", json::object{{"u", 2}, {"t", 3}}));
  EXPECT_NE(peers.find("2 of 3 peers up"), std::string::npos);
  EXPECT_EQ(ok(render("{{#mesh.peers}}3/2{{/mesh.peers}}", json::object{})), "");
  // A "mesh" object given by the caller keeps its members and gains the helpers.
  json::object ctx{{"mesh", json::object{{"node", "n1"}}}};
  auto both = ok(render("{{mesh.node}}{{#mesh.peers}}0/0{{/mesh.peers}}", ctx));
  EXPECT_TRUE(both.starts_with("n1<svg")) << both;
  // Below the top level "mesh" is reserved: it cannot shadow the helpers.
  json::object nested{{"items", json::array{json::object{{"mesh", "shadow"}}}}};
  auto inner = ok(render("{{#items}}{{#mesh.peers}}1/1{{/mesh.peers}}{{/items}}", nested));
  EXPECT_NE(inner.find("1 of 1 peers up"), std::string::npos);
}
