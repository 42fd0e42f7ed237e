// The pages on real mirrors, rendered with the host's template engine (kainjow): what each page
// shows, its links, its limits, and that every repo string is escaped.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "limits.hpp"
#include "pages.hpp"
#include "reader.hpp"
#include "test_renderer.hpp"
#include "test_util.hpp"

namespace mesh::browse {
namespace {
using test::RepoFixture;
using K = PageRequest::Kind;

constexpr std::int64_t kNow = 1'800'000'000;

std::string at(std::int64_t t) {
  return std::to_string(t) + " +0000";
}

bool has(const std::string& html, const std::string& what) {
  return html.find(what) != std::string::npos;
}

class PagesTest : public ::testing::Test {
 protected:
  PagesTest() : pages_(r_.repos(), Settings{}, renderer_, [] { return kNow; }) {}
  PageResponse get(K kind, std::string repo = "app", std::string ref = "", std::string path = "",
                   std::string query = "") {
    PageRequest req;
    req.kind = kind;
    req.repo = std::move(repo);
    req.ref = std::move(ref);
    req.path = std::move(path);
    req.query = std::move(query);
    req.base_url = "http://127.0.0.1:7979";
    return pages_.handle(req);
  }
  PageResponse commit(const std::string& sha) {
    PageRequest req;
    req.kind = K::commit;
    req.repo = "app";
    req.sha = sha;
    return pages_.handle(req);
  }
  boost::json::object context() { return boost::json::parse(renderer_.last_context).as_object(); }

  LibGit2 lib_;
  RepoFixture r_;
  test::TestRenderer renderer_;
  Pages pages_;
};

TEST_F(PagesTest, OverviewShowsBranchesTagsFilesReadmeAndTheLast50Commits) {
  r_.write("README.md", "# Hello\n\nSee [docs](docs/guide.md) and ![logo](img/logo.png)\n");
  r_.write("docs/guide.md", "guide\n");
  r_.write("src/main.c", "int main() {}\n");
  for (int i = 0; i < 55; ++i) r_.commit("commit number " + std::to_string(i), at(kNow - 3600 + i));
  r_.git({"tag", "v1.0"});
  r_.git({"branch", "feature/x"});
  r_.push();
  r_.push_tags();
  auto page = get(K::overview);
  ASSERT_EQ(page.status, 200u) << page.body_html;
  EXPECT_TRUE(page.page);
  EXPECT_EQ(page.repo, "app");
  EXPECT_EQ(page.tab, "Code");
  EXPECT_EQ(page.title, "app");
  const std::string& html = page.body_html;
  EXPECT_TRUE(has(html, "<strong class=\"current-ref mono\">main</strong>"));
  EXPECT_TRUE(has(html, "href=\"/repos/app/tree/feature%2Fx\">feature/x</a>"));
  EXPECT_TRUE(has(html, "href=\"/repos/app/tree/v1.0\">v1.0</a>"));
  EXPECT_TRUE(has(html, "href=\"/repos/app/tree/main/docs\">docs</a>"));
  EXPECT_TRUE(has(html, "href=\"/repos/app/blob/main/README.md\">README.md</a>"));
  EXPECT_TRUE(has(html, "git clone http://127.0.0.1:7979/app.git"));
  // 50 commits, newest first, and a link to older ones.
  auto ctx = context();
  ASSERT_EQ(ctx.at("commits").as_array().size(), kLogCommits);
  EXPECT_EQ(ctx.at("commits").as_array()[0].as_object().at("summary").as_string(),
            "commit number 54");
  EXPECT_EQ(ctx.at("commits").as_array()[0].as_object().at("author").as_string(), "Tess Ter");
  EXPECT_EQ(ctx.at("commits").as_array()[0].as_object().at("time_ms").as_int64(),
            (kNow - 3600 + 54) * 1000);
  EXPECT_TRUE(has(html, "commit number 5</a>"));
  EXPECT_FALSE(has(html, "commit number 4</a>"));
  EXPECT_TRUE(has(html, "href=\"/repos/app/commits/main?page=2\">Older commits</a>"));
  // The README through the markdown renderer, with links and images inside the repo.
  EXPECT_TRUE(has(html, "<div class=\"md\"># Hello"));
  ASSERT_EQ(renderer_.markdown_bases.size(), 1u);
  EXPECT_EQ(renderer_.markdown_bases[0].first, "/repos/app/blob/main/");
  EXPECT_EQ(renderer_.markdown_bases[0].second, "/repos/app/raw/main/");
  // The activity of the last 60 days, for the host's sparkline helper.
  EXPECT_EQ(ctx.at("activity_total").as_int64(), 55);
  EXPECT_TRUE(ctx.at("activity").as_string().ends_with(",55"));
}

TEST_F(PagesTest, AnOverviewAtATagOrABranchWithASlash) {
  r_.write("a.txt", "1\n");
  r_.commit("one");
  r_.git({"checkout", "-q", "-b", "feature/x"});
  r_.write("only-here.txt", "x\n");
  r_.commit("two");
  r_.push();
  r_.write("README.md", "readme\n");
  std::string tip = r_.commit("three");
  r_.push();
  auto page = get(K::tree, "app", "feature/x");
  ASSERT_EQ(page.status, 200u);
  // The README's bases name the commit: the host's resolution would decode %2F into a '/'.
  ASSERT_EQ(renderer_.markdown_bases.size(), 1u);
  EXPECT_EQ(renderer_.markdown_bases[0].first, "/repos/app/blob/" + tip + "/");
  EXPECT_EQ(renderer_.markdown_bases[0].second, "/repos/app/raw/" + tip + "/");
  EXPECT_EQ(page.title, "app at feature/x");
  EXPECT_TRUE(has(page.body_html, "href=\"/repos/app/blob/feature%2Fx/only-here.txt\""));
  EXPECT_TRUE(has(page.body_html,
                  "<div class=\"box-row ref-row current\"><a class=\"ref-name mono\" "
                  "href=\"/repos/app/tree/feature%2Fx\">"));
}

TEST_F(PagesTest, EmptyAndMissingRepos) {
  auto empty = get(K::overview);
  EXPECT_EQ(empty.status, 200u);
  EXPECT_TRUE(has(empty.body_html, "This repo has no branches yet"));
  EXPECT_TRUE(has(empty.body_html, "git push http://127.0.0.1:7979/app.git main"));
  auto missing = get(K::overview, "nope");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.repo, "");  // no repo tabs for a repo that does not exist
  EXPECT_TRUE(has(missing.body_html, "no repo named nope on this node"));
  auto evil = get(K::overview, "<script>alert(1)</script>");
  EXPECT_EQ(evil.status, 404u);
  EXPECT_FALSE(has(evil.body_html, "<script>"));
  EXPECT_TRUE(has(evil.body_html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  auto unknown = get(K::unknown);
  EXPECT_EQ(unknown.status, 404u);
}

TEST_F(PagesTest, TreeListsADirectoryWithBreadcrumbsAndItsReadme) {
  r_.write("docs/sub/deep.txt", "deep\n");
  r_.write("docs/README.md", "docs readme\n");
  r_.write("docs/a.txt", "a\n");
  r_.commit("docs");
  r_.push();
  auto page = get(K::tree, "app", "main", "docs");
  ASSERT_EQ(page.status, 200u) << page.body_html;
  EXPECT_TRUE(has(page.body_html, "href=\"/repos/app/tree/main/docs/sub\">sub</a>"));
  EXPECT_TRUE(has(page.body_html, "href=\"/repos/app/blob/main/docs/a.txt\">a.txt</a>"));
  EXPECT_TRUE(has(page.body_html, "<a href=\"/repos/app/tree/main\">app</a> / "));
  EXPECT_TRUE(has(page.body_html, "<strong class=\"crumb-current\">docs</strong>"));
  EXPECT_TRUE(has(page.body_html, "docs readme"));
  ASSERT_EQ(renderer_.markdown_bases.size(), 1u);
  EXPECT_EQ(renderer_.markdown_bases[0].first, "/repos/app/blob/main/docs/");
  EXPECT_EQ(renderer_.markdown_bases[0].second, "/repos/app/raw/main/docs/");
  // A file asked for as a tree, and a tree asked for as a file, are redirected.
  auto file_as_tree = get(K::tree, "app", "main", "docs/a.txt");
  EXPECT_EQ(file_as_tree.status, 302u);
  EXPECT_FALSE(file_as_tree.page);
  EXPECT_EQ(file_as_tree.headers[0].second, "/repos/app/blob/main/docs/a.txt");
  auto tree_as_file = get(K::blob, "app", "main", "docs");
  EXPECT_EQ(tree_as_file.status, 302u);
  EXPECT_EQ(tree_as_file.headers[0].second, "/repos/app/tree/main/docs");
  EXPECT_EQ(get(K::tree, "app", "main", "nope").status, 404u);
  EXPECT_EQ(get(K::tree, "app", "nope", "docs").status, 404u);
  EXPECT_EQ(get(K::tree, "app", "main", "docs/../..").status, 400u);
  EXPECT_EQ(get(K::tree, "app", "main~1", "docs").status, 400u);
}

TEST_F(PagesTest, TreeEntriesAreCapped) {
  for (int i = 0; i < 15; ++i) r_.write("many/f" + std::to_string(100 + i), "x");
  r_.commit("many");
  r_.push();
  Settings s;
  s.max_tree_entries = 10;
  Pages capped(r_.repos(), s, renderer_, [] { return kNow; });
  PageRequest req{K::tree, "app", "main", "many", "", "", ""};
  auto page = capped.handle(req);
  ASSERT_EQ(page.status, 200u);
  EXPECT_TRUE(has(page.body_html, "5 more entries not shown."));
  EXPECT_TRUE(has(page.body_html, ">f109</a>"));
  EXPECT_FALSE(has(page.body_html, ">f110</a>"));
}

TEST_F(PagesTest, BlobShowsTextWithLineNumbersAndKnowsBinariesAndLimits) {
  r_.write("src/main.c", "int main() {\n  return 0;\n}\n");
  r_.write("bin.dat", std::string("\x7f"
                                  "ELF\0\0\1",
                                  7));
  r_.write("logo.png", std::string("\x89PNG\r\n\x1a\n\0\0", 10));
  r_.write("big.txt", std::string(2 * 1024 * 1024, 'x'));
  r_.write("empty.txt", "");
  r_.write("guide.md", "# Guide\n");
  r_.commit("files");
  r_.push();
  auto text = get(K::blob, "app", "main", "src/main.c");
  ASSERT_EQ(text.status, 200u) << text.body_html;
  EXPECT_EQ(text.title, "src/main.c · app");
  EXPECT_TRUE(has(text.body_html, "<code>int main() {\n  return 0;\n}\n</code>"));
  EXPECT_TRUE(has(text.body_html, "<a id=\"L3\" href=\"#L3\">3</a>"));
  EXPECT_FALSE(has(text.body_html, "id=\"L4\""));
  EXPECT_TRUE(has(text.body_html, "3 lines"));
  EXPECT_TRUE(has(text.body_html, "href=\"/repos/app/raw/main/src/main.c\">Raw</a>"));

  auto bin = get(K::blob, "app", "main", "bin.dat");
  EXPECT_TRUE(has(bin.body_html, "This is a binary file (7 bytes)"));
  EXPECT_FALSE(has(bin.body_html, "ELF"));
  auto img = get(K::blob, "app", "main", "logo.png");
  EXPECT_TRUE(has(img.body_html, "<img src=\"/repos/app/raw/main/logo.png\" alt=\"logo.png\">"));
  auto big = get(K::blob, "app", "main", "big.txt");
  EXPECT_TRUE(has(big.body_html, "This file is 2.0 MiB, more than the 1.0 MiB a page shows."));
  EXPECT_FALSE(has(big.body_html, "xxxxxxxx"));
  auto empty = get(K::blob, "app", "main", "empty.txt");
  EXPECT_TRUE(has(empty.body_html, "This file is empty.")) << empty.body_html;
  auto md = get(K::blob, "app", "main", "guide.md");
  EXPECT_TRUE(has(md.body_html, "<div class=\"md\"># Guide"));
  EXPECT_TRUE(has(md.body_html, "href=\"/repos/app/blob/main/guide.md?plain=1\">Source</a>"));
  auto plain = get(K::blob, "app", "main", "guide.md", "plain=1");
  EXPECT_TRUE(has(plain.body_html, "<code># Guide\n</code>"));
  EXPECT_TRUE(has(plain.body_html, ">Preview</a>"));
  EXPECT_EQ(get(K::blob, "app", "main", "missing.c").status, 404u);
}

TEST_F(PagesTest, RawServesBytesThatCannotRunAsAPage) {
  r_.write("logo.png", std::string("\x89PNG\r\n\x1a\n\0\0", 10));
  r_.write("x.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>");
  r_.write("page.html", "<script>alert(1)</script>");
  r_.write("bin.dat", std::string("\0\1", 2));
  r_.commit("files");
  r_.push();
  auto header = [](const PageResponse& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
      if (n == name) return v;
    return std::string();
  };
  auto png = get(K::raw, "app", "main", "logo.png");
  EXPECT_FALSE(png.page);
  EXPECT_EQ(png.status, 200u);
  EXPECT_EQ(header(png, "Content-Type"), "image/png");
  EXPECT_EQ(png.body, std::string("\x89PNG\r\n\x1a\n\0\0", 10));
  auto svg = get(K::raw, "app", "main", "x.svg");
  EXPECT_EQ(header(svg, "Content-Type"), "image/svg+xml");
  EXPECT_TRUE(has(header(svg, "Content-Security-Policy"), "sandbox"));
  EXPECT_TRUE(has(header(svg, "Content-Security-Policy"), "default-src 'none'"));
  EXPECT_EQ(header(svg, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(get(K::raw, "app", "main", "page.html"), "Content-Type"),
            "text/plain; charset=utf-8");
  EXPECT_EQ(header(get(K::raw, "app", "main", "bin.dat"), "Content-Type"),
            "application/octet-stream");
  EXPECT_EQ(get(K::raw, "app", "main", "nope").status, 404u);
  EXPECT_EQ(get(K::raw, "app", "main", "").status, 400u);
  Settings s;
  s.max_raw_bytes = 4;
  Pages small(r_.repos(), s, renderer_, [] { return kNow; });
  auto over = small.handle(PageRequest{K::raw, "app", "main", "logo.png", "", "", ""});
  EXPECT_EQ(over.status, 413u);
}

TEST_F(PagesTest, CommitShowsMessageParentsAndDiffstat) {
  r_.write("a.txt", "1\n2\n");
  r_.write("gone.txt", "bye\n");
  std::string root = r_.commit("root");
  r_.write("a.txt", "1\ntwo\n3\n");
  std::filesystem::remove(r_.work() / "gone.txt");
  r_.git({"add", "-A"});
  r_.git({"commit", "-q", "-m", "Change a\n\nThe body\nof the message."});
  std::string c = r_.git({"rev-parse", "HEAD"});
  r_.push();
  auto page = commit(c);
  ASSERT_EQ(page.status, 200u) << page.body_html;
  EXPECT_EQ(page.title, "Change a · app");
  const std::string& html = page.body_html;
  EXPECT_TRUE(has(html, "<h2 class=\"commit-summary\">Change a</h2>"));
  EXPECT_TRUE(has(html, "<pre class=\"commit-body\">The body\nof the message.</pre>"));
  EXPECT_TRUE(has(html, "href=\"/repos/app/commit/" + root + "\">" + root.substr(0, 10) + "</a>"));
  EXPECT_TRUE(has(html, "<h2>2 files changed</h2>"));
  EXPECT_TRUE(has(html, "<span class=\"additions\">+2</span> <span class=\"deletions\">−2</span>"));
  EXPECT_TRUE(has(html, "href=\"/repos/app/blob/" + c + "/a.txt\">a.txt</a>"));
  // A deleted file links nowhere (not to the commit's own href either).
  EXPECT_TRUE(has(html, "<td class=\"diff-path\">gone.txt</td>"));
  EXPECT_TRUE(has(html, "href=\"/repos/app/tree/" + c + "\">Browse files</a>"));
  // An abbreviated id is redirected to the full one; unknown and malformed ids are refused.
  auto short_id = commit(c.substr(0, 7));
  EXPECT_EQ(short_id.status, 302u);
  EXPECT_EQ(short_id.headers[0].second, "/repos/app/commit/" + c);
  EXPECT_EQ(commit("00000000").status, 404u);
  EXPECT_EQ(commit("xyz").status, 400u);
  auto first = commit(root);
  EXPECT_TRUE(has(first.body_html, "(the first commit)"));
}

TEST_F(PagesTest, CommitsPagesThroughTheLog) {
  for (int i = 0; i < 120; ++i) r_.commit("c" + std::to_string(i), at(kNow - 1000 + i));
  r_.push();
  auto p1 = get(K::commits, "app", "main");
  ASSERT_EQ(p1.status, 200u);
  EXPECT_TRUE(has(p1.body_html, ">c119</a>"));
  EXPECT_TRUE(has(p1.body_html, "href=\"/repos/app/commits/main?page=2\">Older</a>"));
  EXPECT_FALSE(has(p1.body_html, ">Newer</a>"));
  auto p3 = get(K::commits, "app", "main", "", "page=3");
  EXPECT_TRUE(has(p3.body_html, ">c19</a>"));
  EXPECT_TRUE(has(p3.body_html, ">c0</a>"));
  EXPECT_FALSE(has(p3.body_html, ">c20</a>"));
  EXPECT_FALSE(has(p3.body_html, ">Older</a>"));
  EXPECT_TRUE(has(p3.body_html, "href=\"/repos/app/commits/main?page=2\">Newer</a>"));
  EXPECT_EQ(get(K::commits, "app", "main", "", "page=0").status, 400u);
  EXPECT_EQ(get(K::commits, "app", "main", "", "page=x").status, 400u);
  EXPECT_EQ(get(K::commits, "app", "main", "", "page=9999").status, 400u);
}

TEST_F(PagesTest, IndexListsEveryRepoWithItsLastCommitAndActivity) {
  r_.write("a.txt", "1\n");
  r_.commit("the last one", at(kNow - 100));
  r_.push();
  test::run_git(r_.home(), {"init", "-q", "--bare", (r_.repos() / "empty.git").string()});
  auto page = get(K::index);
  ASSERT_EQ(page.status, 200u) << page.body_html;
  EXPECT_EQ(page.repo, "");
  EXPECT_TRUE(has(page.body_html, "href=\"/repos/app\"><strong>app</strong></a>"));
  EXPECT_TRUE(has(page.body_html, "href=\"/repos/empty\"><strong>empty</strong></a>"));
  EXPECT_TRUE(has(page.body_html, "the last one"));
  EXPECT_TRUE(has(page.body_html, "1 branches · 0 tags"));
  auto ctx = context();
  EXPECT_EQ(ctx.at("count").as_int64(), 2);
  EXPECT_EQ(ctx.at("repos").as_array()[0].as_object().at("activity_total").as_int64(), 1);
}

// Repo strings carrying markup: a branch, a tag, a file name, a commit message and a README.
TEST_F(PagesTest, EveryRepoStringIsEscaped) {
  const std::string payload = "<img src=x onerror=alert(1)>";
  r_.write("<svg onload=alert(1)>.txt", "<script>alert(2)</script>\n");
  r_.write("README", "<script>alert(3)</script>\n");  // not markdown: shown as text
  r_.git({"add", "-A"});
  r_.git({"commit", "-q", "-m", payload + "\n\n<script>alert(4)</script> javascript:alert(5)"});
  std::string c = r_.git({"rev-parse", "HEAD"});
  r_.git({"branch", "<svg/onload=alert(6)>"});
  r_.git({"tag", "\"'><b>"});
  r_.push();
  r_.push_tags();
  std::vector<PageResponse> pages = {get(K::overview),
                                     get(K::index),
                                     commit(c),
                                     get(K::commits, "app", "main"),
                                     get(K::blob, "app", "main", "<svg onload=alert(1)>.txt"),
                                     get(K::tree, "app", "<svg/onload=alert(6)>")};
  for (const auto& p : pages) {
    ASSERT_EQ(p.status, 200u) << p.body_html;
    EXPECT_FALSE(has(p.body_html, "<script>")) << p.body_html;
    EXPECT_FALSE(has(p.body_html, "<img src=x")) << p.body_html;
    EXPECT_FALSE(has(p.body_html, "<svg onload")) << p.body_html;
    EXPECT_FALSE(has(p.body_html, "<svg/onload")) << p.body_html;
    EXPECT_FALSE(has(p.body_html, "<b>")) << p.body_html;
  }
  EXPECT_TRUE(has(pages[0].body_html, "&lt;img src=x onerror=alert(1)&gt;"));
  EXPECT_TRUE(has(pages[0].body_html, "&lt;script&gt;alert(3)&lt;/script&gt;"));
  EXPECT_TRUE(
      has(pages[0].body_html, "href=\"/repos/app/tree/%3Csvg%2Fonload%3Dalert%286%29%3E\""));
  EXPECT_TRUE(has(pages[0].body_html, "&quot;&#39;&gt;&lt;b&gt;"));
  EXPECT_TRUE(has(pages[0].body_html,
                  "href=\"/repos/app/blob/main/%3Csvg%20onload%3Dalert%281%29%3E.txt\""));
  EXPECT_TRUE(has(pages[2].body_html, "&lt;script&gt;alert(4)&lt;/script&gt; javascript:alert(5)"));
  EXPECT_TRUE(has(pages[4].body_html, "&lt;script&gt;alert(2)&lt;/script&gt;"));
}

TEST_F(PagesTest, WithoutAMarkdownRendererTheReadmeIsText) {
  r_.write("README.md", "# Title <b>x</b>\n");
  r_.commit("readme");
  r_.push();
  renderer_.with_markdown = false;
  auto page = get(K::overview);
  EXPECT_TRUE(
      has(page.body_html, "<pre class=\"readme-text\"># Title &lt;b&gt;x&lt;/b&gt;\n</pre>"));
}

TEST_F(PagesTest, AFailedRenderIsA500ThatQuotesNothing) {
  class Failing final : public Renderer {
   public:
    bool render(std::string_view, const std::string&, std::string*, std::string* e) override {
      *e = "<script>";
      return false;
    }
    bool markdown(std::string_view, std::string_view, std::string_view, std::string*) override {
      return false;
    }
  } failing;
  r_.commit("one");
  r_.push();
  Pages pages(r_.repos(), Settings{}, failing, [] { return kNow; });
  auto page = pages.handle(PageRequest{K::overview, "app", "", "", "", "", ""});
  EXPECT_EQ(page.status, 500u);
  EXPECT_FALSE(has(page.body_html, "<script>"));
}

}  // namespace
}  // namespace mesh::browse
