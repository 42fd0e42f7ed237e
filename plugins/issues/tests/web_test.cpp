// The web board: the page models (what the templates are given), the rendered pages with the
// daemon's template engine (escaping of every user string: titles, bodies, comments, labels),
// and the request handling (forms answer 303 once the op is back, fetch() gets JSON).
#include <gtest/gtest.h>

#include <cctype>
#include <regex>

#include "glue_util.hpp"
#include "ids.hpp"
#include "status.hpp"
#include "test_renderer.hpp"
#include "web_assets.hpp"
#include "web_board.hpp"

namespace mesh::issues {
namespace {
namespace json = boost::json;
using test::Loop;

const char* const kXss[] = {
    "<script>window.__xss='title';alert(1)</script>",
    "\"><img src=x onerror=\"window.__xss='attr'\">",
    "' onmouseover='alert(2)",
    "</textarea><script>alert(3)</script>",
    "{{mesh.csrf}} {{{raw}}}",
};

struct Web {
  Loop loop;
  test::TestRenderer renderer;
  WebBoard web{*loop.service, *loop.actions, renderer};

  WebResponse get(const std::string& repo, const std::string& id = "", const std::string& q = "") {
    return finish(web.handle(WebRequest{"GET", repo, id, "", q, "", ""}));
  }
  WebResponse post(const std::string& repo, const std::string& id, const std::string& action,
                   const std::string& body, bool js = false) {
    return finish(
        web.handle(WebRequest{"POST", repo, id, action, "", body,
                              js ? "application/json" : "application/x-www-form-urlencoded"}));
  }
  // The way the plugin answers: now, or once the op came back through the feed.
  WebResponse finish(WebResponse r) {
    if (r.wait_seq == 0) return r;
    std::optional<WebResponse> out;
    loop.service->when_taken(r.wait_seq, Service::Clock::now() + std::chrono::hours(1),
                             [&](Taken t) { out = r.finish(t); });
    EXPECT_FALSE(out) << "answered before the op was back";
    loop.pump();
    EXPECT_TRUE(out);
    return out.value_or(WebResponse{});
  }
};

std::string header(const WebResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

std::vector<std::string> card_ids(const json::object& columns, std::size_t column) {
  std::vector<std::string> out;
  for (const auto& c : columns.at("columns").as_array()[column].at("cards").as_array()) {
    out.emplace_back(c.at("id").as_string());
  }
  return out;
}

TEST(WebModel, ColumnsHoldTheCardsInBoardOrderByState) {
  Loop loop;
  std::string a = loop.create("first", {"bug"});
  std::string b = loop.create("second", {"ui"});
  std::string c = loop.create("third", {"bug", "ui"});
  loop.actions->set_state("app", b, State::closed);
  loop.actions->move("app", c, Place::before, a);
  loop.pump();
  auto ctx = loop.service->read(
      [&](const Board& board) { return columns_context(board, "app", BoardQuery{}, {}); });
  EXPECT_EQ(card_ids(ctx, 0), (std::vector<std::string>{c, a}));
  EXPECT_EQ(card_ids(ctx, 1), (std::vector<std::string>{b}));
  const auto& first = ctx.at("columns").as_array()[0].at("cards").as_array()[0].as_object();
  EXPECT_EQ(first.at("ref").as_string(), "#3");
  EXPECT_EQ(first.at("href").as_string(), "/repos/app/issues/3");
  EXPECT_EQ(first.at("labels_joined").as_string(), "bug,ui");
  EXPECT_EQ(first.at("labels").as_array()[0].at("href").as_string(), "/repos/app/issues?label=bug");
  EXPECT_EQ(first.at("author").as_string(), "mesh:self") << "no name_of given: the id";
  EXPECT_EQ(ctx.at("columns").as_array()[0].at("count").as_uint64(), 2u);

  // Filters mark cards hidden (the script applies the same filters without a reload).
  BoardQuery q = parse_board_query("label=ui&q=THI");
  auto filtered =
      loop.service->read([&](const Board& board) { return columns_context(board, "app", q, {}); });
  const auto& open = filtered.at("columns").as_array()[0].at("cards").as_array();
  EXPECT_FALSE(open[0].at("hidden").as_bool()) << "third: labelled ui, title matches";
  EXPECT_TRUE(open[1].at("hidden").as_bool()) << "first: not labelled ui";
}

TEST(WebModel, LabelColumnsShowOpenIssuesInTheirFirstColumn) {
  Loop loop;
  std::string todo = loop.create("todo one", {"todo"});
  std::string both = loop.create("both", {"doing", "todo"});
  std::string none = loop.create("none");
  std::string gone = loop.create("closed", {"todo"});
  loop.actions->set_state("app", gone, State::closed);
  loop.pump();
  BoardQuery q = parse_board_query("columns=todo,doing,done");
  ASSERT_EQ(q.columns, (std::vector<std::string>{"todo", "doing", "done"}));
  auto ctx =
      loop.service->read([&](const Board& board) { return columns_context(board, "app", q, {}); });
  ASSERT_EQ(ctx.at("columns").as_array().size(), 4u);
  EXPECT_EQ(card_ids(ctx, 0), (std::vector<std::string>{none}));
  EXPECT_EQ(card_ids(ctx, 1), (std::vector<std::string>{todo, both}));
  EXPECT_TRUE(card_ids(ctx, 2).empty());
  EXPECT_EQ(ctx.at("columns").as_array()[1].at("label").as_string(), "todo");
}

TEST(WebModel, TheQueryIsCheckedAndBounded) {
  BoardQuery q = parse_board_query("label=%2Bbad&columns=a,,b,a,%2Cx&q=" + std::string(500, 'x'));
  EXPECT_EQ(q.label, "") << "'+bad' is no label";
  EXPECT_EQ(q.columns, (std::vector<std::string>{"a", "b", "x"}));
  EXPECT_EQ(q.q.size(), kMaxSearch);
  EXPECT_FALSE(q.ignored.empty());
  std::string many = "columns=";
  for (int i = 0; i < 12; ++i) many += "c" + std::to_string(i) + ",";
  EXPECT_EQ(parse_board_query(many).columns.size(), kMaxLabelColumns);
  EXPECT_EQ(parse_board_query("q=two+words%21").q, "two words!");
  EXPECT_FALSE(parse_board_query("%zz").ignored.empty());
  EXPECT_EQ(url_encode("good first/issue&x"), "good%20first%2Fissue%26x");
  EXPECT_EQ(issue_path("app", "#12-3fa9"), "/repos/app/issues/12-3fa9");
}

TEST(WebModel, ColumnsAreCapped) {
  Loop loop;
  for (std::size_t i = 0; i < kMaxCardsPerColumn + 3; ++i) {
    loop.actions->create("app", "issue " + std::to_string(i), "", {});
  }
  loop.pump();
  auto ctx = loop.service->read(
      [&](const Board& board) { return columns_context(board, "app", BoardQuery{}, {}); });
  const auto& open = ctx.at("columns").as_array()[0].as_object();
  EXPECT_EQ(open.at("cards").as_array().size(), kMaxCardsPerColumn);
  EXPECT_EQ(open.at("count").as_uint64(), kMaxCardsPerColumn + 3);
  EXPECT_EQ(open.at("more").as_string(), "3");
}

TEST(WebTemplates, EveryTemplateParses) {
  test::TestRenderer r;
  for (const char* name : {"board.mustache", "columns.mustache", "issue.mustache",
                           "thread.mustache", "new.mustache", "message.mustache"}) {
    auto t = web_asset(name);
    ASSERT_TRUE(t) << name;
    std::string out, error;
    EXPECT_TRUE(r.render(*t, "{}", &out, &error)) << name << ": " << error;
  }
  EXPECT_TRUE(web_asset("board.js"));
  EXPECT_TRUE(web_asset("board.css"));
  // No inline script or style anywhere (the CSP refuses them).
  for (const char* name : {"board.mustache", "columns.mustache", "issue.mustache",
                           "thread.mustache", "new.mustache", "message.mustache"}) {
    std::string t(*web_asset(name));
    EXPECT_EQ(t.find("<script"), std::string::npos) << name;
    EXPECT_EQ(t.find("style="), std::string::npos) << name;
    EXPECT_FALSE(std::regex_search(t, std::regex(R"(\son[a-z]+=)"))) << name;
    for (auto at = t.find("{{{"); at != std::string::npos; at = t.find("{{{", at + 3)) {
      std::string tag = t.substr(at, t.find("}}}", at) + 3 - at);
      bool allowed = tag == "{{{columns_html}}}" || tag == "{{{thread_html}}}" ||
                     tag == "{{{issue.body_html}}}" || tag == "{{{body_html}}}";
      EXPECT_TRUE(allowed) << name << ": " << tag << ": raw output only for HTML the host rendered";
    }
  }
}

// The attribute names of every tag in `html`, read the way a browser tokenizes tags (quoted
// values may hold anything but their own quote).
std::vector<std::string> attribute_names(const std::string& html) {
  std::vector<std::string> out;
  auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; };
  for (std::size_t i = 0; i < html.size(); ++i) {
    if (html[i] != '<' || i + 1 >= html.size() ||
        !std::isalpha(static_cast<unsigned char>(html[i + 1]))) {
      continue;
    }
    std::size_t j = i + 1;
    while (j < html.size() && is_name(html[j])) ++j;  // the tag name
    while (j < html.size() && html[j] != '>') {
      if (std::isspace(static_cast<unsigned char>(html[j])) || html[j] == '/') {
        ++j;
        continue;
      }
      std::size_t from = j;
      while (j < html.size() && !std::isspace(static_cast<unsigned char>(html[j])) &&
             html[j] != '=' && html[j] != '>') {
        ++j;
      }
      out.push_back(html.substr(from, j - from));
      if (j < html.size() && html[j] == '=') {
        ++j;
        if (j < html.size() && (html[j] == '"' || html[j] == '\'')) {
          char q = html[j];
          j = html.find(q, j + 1);
          if (j == std::string::npos) return out;
          ++j;
        } else {
          while (j < html.size() && !std::isspace(static_cast<unsigned char>(html[j])) &&
                 html[j] != '>') {
            ++j;
          }
        }
      }
    }
    i = j;
  }
  return out;
}

// Every user string is text: a payload shows up escaped, never as markup: no tag it wrote
// (script, img), no event-handler attribute, no template it smuggled in.
void expect_inert(const std::string& html, const std::string& where) {
  EXPECT_EQ(html.find("<script"), std::string::npos) << where;
  EXPECT_EQ(html.find("<img"), std::string::npos) << where;
  for (const auto& name : attribute_names(html)) {
    EXPECT_FALSE(name.size() > 2 && (name[0] == 'o' || name[0] == 'O') &&
                 (name[1] == 'n' || name[1] == 'N'))
        << where << ": an attribute " << name;
  }
  EXPECT_EQ(html.find("</textarea><script"), std::string::npos) << where;
  EXPECT_EQ(html.find("CSRF-TOKEN {"), std::string::npos) << where << ": a title is no template";
}

TEST(WebPages, TheInertCheckSeesInjectedAttributes) {
  EXPECT_EQ(attribute_names("<a href=\"x onclick=y\" class='c'>t</a><img src=x onerror=z>"),
            (std::vector<std::string>{"href", "class", "src", "onerror"}));
}

TEST(WebPages, PayloadsInTitlesBodiesCommentsAndLabelsAreInert) {
  Web w;
  std::vector<std::string> ids;
  for (const char* x : kXss) {
    ActionResult r = w.loop.actions->create("app", x, x, {});
    ASSERT_TRUE(r.ok) << r.error;
    ids.push_back(r.id);
  }
  w.loop.pump();
  for (const auto& id : ids) {
    for (const char* x : kXss) {
      w.loop.actions->comment("app", id, x);
      if (!check_label(x)) w.loop.actions->labels("app", id, {x}, {});
    }
  }
  w.loop.actions->labels("app", ids[0], {"<b>bold</b>", "\"quoted\""}, {});
  w.loop.pump();

  WebResponse board = w.get("app");
  ASSERT_EQ(board.status, 200u) << board.body;
  ASSERT_TRUE(board.page);
  expect_inert(board.body_html, "board");
  EXPECT_NE(board.body_html.find("&lt;script&gt;window.__xss=&#39;title&#39;"), std::string::npos);
  EXPECT_NE(board.body_html.find("data-chip=\"&lt;b&gt;bold&lt;/b&gt;\""), std::string::npos);
  EXPECT_NE(board.body_html.find(",&quot;quoted&quot;,"), std::string::npos) << "in data-labels";
  EXPECT_NE(board.body_html.find(",&lt;b&gt;bold&lt;/b&gt;,"), std::string::npos);

  for (const auto& id : ids) {
    WebResponse page = w.get("app", id);
    ASSERT_EQ(page.status, 200u) << page.body;
    expect_inert(page.body_html, "issue " + id);
    EXPECT_NE(page.body_html.find("&lt;/textarea&gt;&lt;script&gt;"), std::string::npos);
  }
  // The page title is plain text; the host escapes it in the layout.
  EXPECT_NE(w.get("app", ids[0]).title.find("<script>"), std::string::npos);
}

TEST(WebPages, MarkdownComesFromTheHostAndIsInsertedAsIs) {
  Web w;
  w.renderer.markdown_fn = [](std::string_view t) {
    return "<p class=\"md\">" + html_escape(t) + "</p>";
  };
  std::string id = w.loop.create("md");
  w.loop.actions->comment("app", id, "**bold**");
  w.loop.pump();
  WebResponse page = w.get("app", "1");
  EXPECT_NE(page.body_html.find("<p class=\"md\">**bold**</p>"), std::string::npos)
      << page.body_html;
  EXPECT_EQ(page.scripts, "/assets/issues/board.js");
  EXPECT_EQ(page.repo, "app");
}

TEST(WebPages, BoardPageHasItsScriptsChannelAndChips) {
  Web w;
  w.loop.create("a", {"bug"});
  w.loop.create("b", {"bug", "ui"});
  WebResponse r = w.get("app", "", "label=bug");
  ASSERT_TRUE(r.page);
  EXPECT_EQ(r.scripts, "/assets/sortable.js /assets/issues/board.js");
  EXPECT_EQ(r.title, "Issues · app");
  EXPECT_NE(r.body_html.find("data-mesh-sse=\"issues/app\""), std::string::npos);
  EXPECT_NE(r.body_html.find("href=\"/repos/app/issues?label=ui\""), std::string::npos);
  EXPECT_NE(r.body_html.find("class=\"label issues-chip active\" href=\"/repos/app/issues?\""),
            std::string::npos)
      << "the active chip links back to all";
  EXPECT_NE(r.body_html.find("<link rel=\"stylesheet\" href=\"/assets/issues/board.css\">"),
            std::string::npos);
  EXPECT_EQ(w.get("nope").status, 404u);
  EXPECT_EQ(w.get("bad..name").status, 400u);
  EXPECT_EQ(w.get("app", "99").status, 404u);
}

TEST(WebRequests, FormsCreateAndChangeThenRedirect) {
  Web w;
  WebResponse created =
      w.post("app", "", "", "csrf=x&title=Crash+on+start&body=It+*crashes*.&labels=bug%2C+ui");
  EXPECT_FALSE(created.page);
  EXPECT_EQ(created.status, 303u);
  EXPECT_EQ(header(created, "Location"), "/repos/app/issues/1");
  std::string id =
      w.loop.service->read([](const Board& b) { return b.repo("app")->issues.begin()->first; });
  const Issue* i = w.loop.issue(id);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->title.value, "Crash on start");
  EXPECT_EQ(i->labels.values(), (std::vector<std::string>{"bug", "ui"}));

  EXPECT_EQ(w.post("app", "1", "comment", "body=me+too").status, 303u);
  EXPECT_EQ(i->comments.size(), 1u);
  EXPECT_EQ(w.post("app", "1", "state", "state=closed").status, 303u);
  EXPECT_EQ(i->state.value.state, State::closed);
  EXPECT_EQ(w.post("app", "1", "labels", "remove=bug").status, 303u);
  EXPECT_EQ(i->labels.values(), (std::vector<std::string>{"ui"}));
  EXPECT_EQ(w.post("app", "1", "edit", "title=Renamed&body=new").status, 303u);
  EXPECT_EQ(i->title.value, "Renamed");
  EXPECT_EQ(w.post("app", "1", "assignees", "add=bob").status, 303u);
  EXPECT_EQ(i->assignees.values(), (std::vector<std::string>{"bob"}));

  // Refused: the page again with the reason, and nothing published.
  std::size_t queued = w.loop.queue.size();
  WebResponse empty = w.post("app", "1", "comment", "body=+++");
  EXPECT_EQ(empty.status, 400u);
  EXPECT_TRUE(empty.page);
  EXPECT_NE(empty.body_html.find("flash-error"), std::string::npos);
  EXPECT_NE(empty.body_html.find("the comment is empty"), std::string::npos);
  EXPECT_EQ(w.post("app", "1", "state", "state=maybe").status, 400u);
  EXPECT_EQ(w.post("app", "1", "explode", "").status, 404u);
  WebResponse long_title = w.post("app", "", "", "title=" + std::string(300, 'x'));
  EXPECT_EQ(long_title.status, 400u);
  EXPECT_NE(long_title.body_html.find("at most 256"), std::string::npos);
  EXPECT_NE(long_title.body_html.find(std::string(300, 'x')), std::string::npos)
      << "what the user typed is kept";
  EXPECT_EQ(w.loop.queue.size(), queued);
}

TEST(WebRequests, DropsFromTheBoardAreJson) {
  Web w;
  std::string a = w.loop.create("a");
  std::string b = w.loop.create("b");
  std::string c = w.loop.create("c");
  WebResponse r = w.post("app", c, "move", R"({"after":")" + a + R"(","state":"closed"})", true);
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(header(r, "Content-Type"), "application/json");
  EXPECT_EQ(r.body, R"({"ok":true,"taken":true})");
  auto order = w.loop.service->read([](const Board& board) {
    std::vector<std::string> ids;
    for (const Issue* i : board_order(*board.repo("app"))) ids.push_back(i->id);
    return ids;
  });
  EXPECT_EQ(order, (std::vector<std::string>{a, c, b}));
  EXPECT_EQ(w.loop.issue(c)->state.value.state, State::closed);

  // Into a label column: its label in, the other columns' labels out.
  r = w.post("app", b, "move", R"({"add_labels":["doing"],"remove_labels":["todo","done"]})", true);
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(w.loop.issue(b)->labels.values(), (std::vector<std::string>{"doing"}));

  EXPECT_EQ(w.post("app", b, "move", "{not json", true).status, 400u);
  EXPECT_EQ(w.post("app", b, "move", R"({"after":")" + b + R"("})", true).status, 400u);
  WebResponse missing = w.post("app", b, "move", R"({"before":"ffffffffffff"})", true);
  EXPECT_EQ(missing.status, 404u);
  EXPECT_NE(missing.body.find("\"error\""), std::string::npos);
  EXPECT_EQ(w.post("app", op_id("mesh:x", 1), "move", R"({"state":"open"})", true).status, 404u);
}

}  // namespace
}  // namespace mesh::issues
