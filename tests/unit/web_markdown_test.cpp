// GFM markdown through cmark-gfm: the extensions work, raw HTML never reaches the output,
// unsafe links are removed, relative links and images resolve against their bases.
#include <gtest/gtest.h>

#include "mesh/web/markdown.hpp"

using namespace mesh;
using namespace mesh::web;

namespace {

std::string md(std::string_view text, MarkdownOptions opts = {}) {
  auto r = markdown_to_html(text, opts);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : std::string();
}

bool has(const std::string& s, std::string_view what) {
  return s.find(what) != std::string::npos;
}

}  // namespace

TEST(WebMarkdown, GithubFlavour) {
  auto html =
      md("# Title\n\n"
         "| a | b |\n|---|:-:|\n| 1 | 2 |\n\n"
         "~~gone~~ and https://example.com/x\n\n"
         "- [x] done\n- [ ] todo\n\n"
         "```cpp\nint x;\n```\n");
  EXPECT_TRUE(has(html, "<h1>Title</h1>")) << html;
  EXPECT_TRUE(has(html, "<table>")) << html;
  EXPECT_TRUE(has(html, "<th>a</th>")) << html;
  EXPECT_TRUE(has(html, "<td align=\"center\">2</td>")) << html;
  EXPECT_TRUE(has(html, "<del>gone</del>")) << html;
  EXPECT_TRUE(has(html, "<a href=\"https://example.com/x\">https://example.com/x</a>")) << html;
  EXPECT_TRUE(has(html, "type=\"checkbox\" checked=\"\" disabled=\"\"")) << html;
  EXPECT_TRUE(has(html, "<code class=\"language-cpp\">int x;")) << html;
  // No style attributes: the CSP would refuse them.
  EXPECT_FALSE(has(html, "style=")) << html;
}

TEST(WebMarkdown, RawHtmlIsDropped) {
  auto html =
      md("<script>alert(1)</script>\n\n"
         "text <img src=x onerror=alert(2)> more <b onclick=\"x()\">bold</b>\n\n"
         "<iframe src=\"javascript:alert(3)\"></iframe>\n");
  EXPECT_FALSE(has(html, "<script")) << html;
  EXPECT_FALSE(has(html, "<img")) << html;
  EXPECT_FALSE(has(html, "onerror")) << html;
  EXPECT_FALSE(has(html, "onclick")) << html;
  EXPECT_FALSE(has(html, "<iframe")) << html;
  EXPECT_FALSE(has(html, "<b ")) << html;
  EXPECT_TRUE(has(html, "raw HTML omitted")) << html;
  EXPECT_TRUE(has(html, "text")) << html;
}

TEST(WebMarkdown, UnsafeLinkSchemesAreRemovedTheirTextStays) {
  auto html =
      md("[a](javascript:alert(1)) [b](JaVaScRiPt:alert(2)) [c](vbscript:msgbox) "
         "[d](file:///etc/passwd) [e](data:text/html;base64,PHNjcmlwdD4=) "
         "[f](jav&#x61;script:alert(3)) [g](java\tscript:alert(4)) <javascript:alert(5)>\n\n"
         "![img](javascript:alert(6)) ![svg](data:image/svg+xml;base64,PHN2Zz4=)\n");
  // No link or image survives, so no attribute carries a scheme; what stays is plain text (a
  // tab in a destination is not a link to cmark at all, and an autolink's text is its URL).
  EXPECT_FALSE(has(html, "<a ")) << html;
  EXPECT_FALSE(has(html, "href")) << html;
  EXPECT_FALSE(has(html, "src=")) << html;
  EXPECT_FALSE(has(html, "vbscript")) << html;
  EXPECT_FALSE(has(html, "file:")) << html;
  EXPECT_FALSE(has(html, "data:")) << html;
  EXPECT_FALSE(has(html, "<img")) << html;
  for (const char* text : {">a<", ">b<", ">c<", ">d<", ">e<", ">f<"}) {
    EXPECT_FALSE(has(html, text)) << "unexpected markup around " << text;
  }
  EXPECT_TRUE(has(html, "a b c d e f")) << html;  // the link texts remain as plain text
  EXPECT_TRUE(has(html, "img svg")) << html;      // and the images' alt texts
}

TEST(WebMarkdown, SafeLinksAndImagesStay) {
  auto html =
      md("[web](https://example.com/a?b=c#d) [mail](mailto:me@example.com) [top](#readme) "
         "[abs](/repos/x)\n\n![png](data:image/png;base64,iVBORw0KGgo=)\n");
  EXPECT_TRUE(has(html, "href=\"https://example.com/a?b=c#d\"")) << html;
  EXPECT_TRUE(has(html, "href=\"mailto:me@example.com\"")) << html;
  EXPECT_TRUE(has(html, "href=\"#readme\"")) << html;
  EXPECT_TRUE(has(html, "href=\"/repos/x\"")) << html;
  EXPECT_TRUE(has(html, "src=\"data:image/png;base64,iVBORw0KGgo=\"")) << html;
}

TEST(WebMarkdown, RelativeLinksAndImagesResolveAgainstTheirBases) {
  MarkdownOptions opts;
  opts.link_base = "/repos/app/blob/main/docs/";
  opts.image_base = "/repos/app/raw/main/docs/";
  auto html =
      md("[guide](guide.md) [up](../README.md) [deep](a/b/../c.md#sec) [q](x?y=1) [frag](#top) "
         "[abs](/elsewhere) [sp](<my file.md>)\n\n![logo](img/logo.png) ![up](../logo.svg)\n",
         opts);
  EXPECT_TRUE(has(html, "href=\"/repos/app/blob/main/docs/guide.md\"")) << html;
  EXPECT_TRUE(has(html, "href=\"/repos/app/blob/main/README.md\"")) << html;
  EXPECT_TRUE(has(html, "href=\"/repos/app/blob/main/docs/a/c.md#sec\"")) << html;
  EXPECT_TRUE(has(html, "href=\"/repos/app/blob/main/docs/x?y=1\"")) << html;
  EXPECT_TRUE(has(html, "href=\"#top\"")) << html;
  EXPECT_TRUE(has(html, "href=\"/elsewhere\"")) << html;
  EXPECT_TRUE(has(html, "href=\"/repos/app/blob/main/docs/my%20file.md\"")) << html;
  EXPECT_TRUE(has(html, "src=\"/repos/app/raw/main/docs/img/logo.png\"")) << html;
  EXPECT_TRUE(has(html, "src=\"/repos/app/raw/main/logo.svg\"")) << html;
  // ".." never climbs above the base's root.
  auto climb = md("[x](../../../../../../etc/passwd)", opts);
  EXPECT_TRUE(has(climb, "href=\"/etc/passwd\"")) << climb;
  // A base that is a whole URL keeps its origin.
  MarkdownOptions url;
  url.link_base = "https://example.com/docs/";
  EXPECT_TRUE(has(md("[x](y.md)", url), "href=\"https://example.com/docs/y.md\""));
  // An encoded slash in the base (a branch "feature/x") or the link stays encoded, and so does
  // an encoded percent sign (Boost.URL 1.81's resolve alone would turn %2F into a separator).
  MarkdownOptions branch;
  branch.link_base = "/repos/app/blob/feature%2Fx/docs/";
  auto b = md("[g](guide.md) [up](../../README.md) [e](a%2Fb%25c.md)", branch);
  EXPECT_TRUE(has(b, "href=\"/repos/app/blob/feature%2Fx/docs/guide.md\"")) << b;
  EXPECT_TRUE(has(b, "href=\"/repos/app/blob/README.md\"")) << b;
  EXPECT_TRUE(has(b, "href=\"/repos/app/blob/feature%2Fx/docs/a%2Fb%25c.md\"")) << b;
  MarkdownOptions literal;  // "%252F" (the text "%2F") is not turned into an encoded slash
  literal.link_base = "/repos/app/blob/main/";
  auto l = md("[x](a%252Fb.md)", literal);
  EXPECT_TRUE(has(l, "href=\"/repos/app/blob/main/a%252Fb.md\"")) << l;
  // Without a base, relative targets stay as written.
  EXPECT_TRUE(has(md("[x](y.md)"), "href=\"y.md\""));
}

TEST(WebMarkdown, EscapesTextAndLimitsInput) {
  auto html = md("5 < 6 & \"q\" 'a'");
  EXPECT_TRUE(has(html, "5 &lt; 6 &amp; &quot;q&quot; 'a'")) << html;
  MarkdownOptions small;
  small.max_input = 10;
  auto r = markdown_to_html("01234567890", small);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit);
  // The default limit is 1 MiB.
  EXPECT_TRUE(markdown_to_html(std::string(1024 * 1024, 'a')));
  EXPECT_FALSE(markdown_to_html(std::string(1024 * 1024 + 1, 'a')));
  // NUL and invalid UTF-8 become U+FFFD instead of reaching the page.
  auto odd = md(std::string("a\0b\xff", 4));
  EXPECT_EQ(odd.find('\0'), std::string::npos);
  EXPECT_TRUE(has(odd, "\xef\xbf\xbd")) << odd;
}

TEST(WebMarkdown, DeepNestingDoesNotBlowTheStack) {
  std::string quotes(100000, '>');
  EXPECT_TRUE(markdown_to_html(quotes + " x"));
  std::string links;
  for (int i = 0; i < 20000; ++i) links += "[a](javascript:x) ";
  auto html = md(links);
  EXPECT_FALSE(has(html, "javascript"));
}
