// The web board's page models: the JSON contexts handed to the templates in web/ (rendered by
// the host's ui_render, which escapes every {{value}}). Pure functions of the board, so tests
// check exactly what a page will show. Markup lives in the templates only; raw HTML enters a
// context in two places, both produced by the host: rendered markdown (markdown_render drops
// raw HTML) and a fragment rendered from another of these contexts.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "board.hpp"
#include "issue_json.hpp"
#include "query.hpp"

namespace mesh::issues {

inline constexpr std::size_t kMaxCardsPerColumn = 1000;  // the rest: "and N more"
inline constexpr std::size_t kMaxLabelColumns = 8;
inline constexpr std::size_t kMaxSearch = 200;

// What the board's URL asks for: /repos/<repo>/issues?label=L&q=text&columns=a,b,c
struct BoardQuery {
  std::string label;                 // show only cards with this label
  std::string q;                     // show only cards whose ref, title or labels contain it
  std::vector<std::string> columns;  // label columns (open issues); empty: open / closed
  std::vector<std::string> ignored;  // what was not understood, for a flash message
};
BoardQuery parse_board_query(std::string_view query);

// The pairs of a query string or an application/x-www-form-urlencoded body, decoded ('+' is a
// space); false if it is malformed or has more than max pairs.
bool parse_params(std::string_view text, std::size_t max,
                  std::vector<std::pair<std::string, std::string>>* out);

// Percent-encoding of a query value (RFC 3986 unreserved characters stay).
std::string url_encode(std::string_view text);
// The board's base path, /repos/<repo>/issues.
std::string board_base(std::string_view repo);
// An issue's path: /repos/<repo>/issues/12 (or 12-3fa9 while its number is shared).
std::string issue_path(std::string_view repo, std::string_view ref);

// The columns fragment (columns.mustache): {"columns":[{"key","title","state","label",
// "count","more","cards":[{"id","ref","href","title","state","author","updated_ms",
// "comments","labels":[{"name","href"}],"labels_joined","search","hidden"}]}], "by_label"}
boost::json::object columns_context(const Board& board, const std::string& repo,
                                    const BoardQuery& q, const NameOf& name_of);

// The page around it (board.mustache); columns_html is the rendered fragment.
boost::json::object board_context(const Board& board, const std::string& repo, const BoardQuery& q,
                                  std::string columns_html);

// Markdown to trusted HTML (the host's renderer, or escaped text when it has none).
using MarkdownFn = std::function<std::string(std::string_view markdown)>;

// The live part of an issue page (thread.mustache): title, state, meta, body, comments and
// the label/state controls. {"repo","base","issue":{..},"comments":[..],"labels":[..],...}
// `view` must hold the comments (view_of(..., true)).
boost::json::object thread_context(const IssueView& view, const NameOf& name_of,
                                   const MarkdownFn& markdown);
// The page (issue.mustache): thread_html plus the comment, edit and label forms; known_labels
// (every label of the repo) feed the label input's suggestions.
boost::json::object issue_context(const IssueView& view,
                                  const std::vector<std::string>& known_labels,
                                  std::string thread_html, std::string flash);
// Every label used in the repo, sorted.
std::vector<std::string> repo_labels(const Repo& repo);

// The new-issue form (new.mustache), with what the user typed when it was refused.
boost::json::object new_issue_context(const std::string& repo, const std::string& title,
                                      const std::string& body, const std::string& labels,
                                      const std::string& flash);

// A message page (message.mustache): a heading, a sentence, and links.
struct Link {
  std::string text, href;
};
boost::json::object message_context(const std::string& repo, const std::string& heading,
                                    const std::string& text, const std::vector<Link>& links);

}  // namespace mesh::issues
