#include "web_model.hpp"

#include <algorithm>
#include <boost/url/encode.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <map>
#include <set>

#include "service.hpp"
#include "validate.hpp"

namespace mesh::issues {
namespace json = boost::json;
namespace urls = boost::urls;
namespace {

constexpr std::size_t kMaxQueryParams = 64;

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

std::string ref_path(const std::string& ref) {
  return ref.starts_with('#') ? ref.substr(1) : ref;
}

std::string name(const NameOf& name_of, const std::string& origin) {
  std::string n = name_of ? name_of(origin) : std::string();
  return n.empty() ? origin.substr(0, 17) : n;
}

json::array label_links(const std::string& repo, const std::vector<std::string>& labels) {
  json::array out;
  for (const auto& l : labels) {
    out.push_back(
        json::object{{"name", l}, {"href", board_base(repo) + "?label=" + url_encode(l)}});
  }
  return out;
}

std::string joined(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

json::object card(const std::string& repo, const IssueView& v, const NameOf& name_of,
                  std::size_t comments, const BoardQuery& q) {
  json::object c;
  c["id"] = v.id;
  c["ref"] = v.ref;
  c["href"] = issue_path(repo, v.ref);
  c["title"] = v.title;
  auto state = state_name(v.state);
  c["state"] = json::string_view(state.data(), state.size());
  c["author"] = name(name_of, v.author);
  c["updated_ms"] = v.updated_ms;
  if (comments > 0) {
    c["comments"] = std::to_string(comments) + (comments == 1 ? " comment" : " comments");
  }
  c["labels"] = label_links(repo, v.labels);
  c["has_labels"] = !v.labels.empty();
  c["labels_joined"] = joined(v.labels, ",");
  std::string search = lower_ascii(v.ref + " " + v.title + " " + joined(v.labels, " "));
  bool hidden = (!q.label.empty() &&
                 std::find(v.labels.begin(), v.labels.end(), q.label) == v.labels.end()) ||
                (!q.q.empty() && search.find(lower_ascii(q.q)) == std::string::npos);
  c["search"] = std::move(search);
  c["hidden"] = hidden;
  return c;
}

}  // namespace

std::string url_encode(std::string_view text) {
  return urls::encode(text, urls::unreserved_chars);
}

std::string board_base(std::string_view repo) {
  return "/repos/" + url_encode(repo) + "/issues";
}

std::string issue_path(std::string_view repo, std::string_view ref) {
  return board_base(repo) + "/" + url_encode(ref_path(std::string(ref)));
}

bool parse_params(std::string_view text, std::size_t max,
                  std::vector<std::pair<std::string, std::string>>* out) {
  if (text.empty()) return true;
  if (!urls::parse_query(text)) return false;
  urls::encoding_opts opt;
  opt.space_as_plus = true;
  for (const auto& p : urls::params_view(urls::string_view(text.data(), text.size()), opt)) {
    if (out->size() == max) return false;
    out->emplace_back(p.key, p.value);
  }
  return true;
}

BoardQuery parse_board_query(std::string_view query) {
  BoardQuery q;
  std::vector<std::pair<std::string, std::string>> params;
  if (!parse_params(query, kMaxQueryParams, &params)) {
    q.ignored.push_back("the query string");
    return q;
  }
  for (const auto& p : params) {
    const std::string& value = p.second;
    const std::string& key = p.first;
    if (key == "label") {
      if (check_label(value)) {
        q.ignored.push_back("label");
      } else {
        q.label = value;
      }
    } else if (key == "q") {
      q.q = value.substr(0, kMaxSearch);
    } else if (key == "columns") {
      std::set<std::string> seen;
      std::size_t from = 0;
      while (from <= value.size() && !value.empty()) {
        std::size_t comma = value.find(',', from);
        std::string l = value.substr(from, comma == std::string::npos ? comma : comma - from);
        from = comma == std::string::npos ? value.size() + 1 : comma + 1;
        if (l.empty()) continue;
        if (check_label(l) || q.columns.size() == kMaxLabelColumns) {
          q.ignored.push_back("column " + l.substr(0, 64));
        } else if (seen.insert(l).second) {
          q.columns.push_back(l);
        }
      }
    }
  }
  return q;
}

json::object columns_context(const Board& board, const std::string& repo, const BoardQuery& q,
                             const NameOf& name_of) {
  struct Column {
    std::string key, title, state, label;
    json::array cards;
    std::size_t count = 0, more = 0;
  };
  std::vector<Column> cols;
  bool by_label = !q.columns.empty();
  if (by_label) {
    cols.push_back({"none", "No column label", "open", "", {}});
    for (const auto& l : q.columns) cols.push_back({"label:" + l, l, "open", l, {}});
  } else {
    cols.push_back({"open", "Open", "open", "", {}});
    cols.push_back({"closed", "Closed", "closed", "", {}});
  }
  if (const Repo* r = board.repo(repo)) {
    for (const Issue* issue : board_order(*r)) {
      State s = issue->state.value.state;
      Column* col = nullptr;
      if (by_label) {
        if (s != State::open) continue;
        col = &cols[0];
        for (std::size_t i = 1; i < cols.size() && col == &cols[0]; ++i) {
          if (issue->labels.contains(cols[i].label)) col = &cols[i];
        }
      } else {
        col = &cols[s == State::open ? 0 : 1];
      }
      ++col->count;
      if (col->cards.size() >= kMaxCardsPerColumn) {
        ++col->more;
        continue;
      }
      col->cards.push_back(
          card(repo, view_of(*r, *issue, false), name_of, issue->comments.size(), q));
    }
  }
  json::array columns;
  for (auto& c : cols) {
    json::object o{{"key", c.key},     {"title", c.title}, {"state", c.state},
                   {"label", c.label}, {"count", c.count}, {"empty", c.count == 0}};
    if (c.more) o["more"] = std::to_string(c.more);
    o["cards"] = std::move(c.cards);
    columns.push_back(std::move(o));
  }
  return json::object{{"columns", std::move(columns)}, {"by_label", by_label}};
}

json::object board_context(const Board& board, const std::string& repo, const BoardQuery& q,
                           std::string columns_html) {
  std::map<std::string, std::size_t> counts;
  std::size_t open = 0, closed = 0;
  if (const Repo* r = board.repo(repo)) {
    for (const auto& [id, issue] : r->issues) {
      (issue.state.value.state == State::open ? open : closed) += 1;
      for (const auto& l : issue.labels.values()) ++counts[l];
    }
  }
  const std::string base = board_base(repo);
  std::string columns_param = joined(q.columns, ",");
  std::string keep = columns_param.empty() ? "" : "&columns=" + url_encode(columns_param);
  json::array chips;
  for (const auto& [label, n] : counts) {
    bool active = label == q.label;
    chips.push_back(json::object{
        {"name", label},
        {"count", n},
        {"active", active},
        {"href", base + "?" + (active ? std::string() : "label=" + url_encode(label)) + keep}});
  }
  json::object o;
  o["repo"] = repo;
  o["base"] = base;
  o["channel"] = board_channel(repo);
  o["new_href"] = base + "/new";
  o["all_href"] = base + (keep.empty() ? "" : "?" + keep.substr(1));
  o["state_columns_href"] = base;
  o["columns_param"] = columns_param;
  o["by_label"] = !q.columns.empty();
  o["label"] = q.label;
  o["q"] = q.q;
  o["chips"] = std::move(chips);
  o["no_label"] = q.label.empty();
  o["open"] = open;
  o["closed"] = closed;
  o["empty"] = open + closed == 0;
  if (!q.ignored.empty()) o["flash"] = "Ignored in the address: " + joined(q.ignored, ", ");
  o["columns_html"] = std::move(columns_html);
  return o;
}

json::object thread_context(const IssueView& v, const NameOf& name_of, const MarkdownFn& markdown) {
  json::object i;
  i["id"] = v.id;
  i["ref"] = v.ref;
  i["title"] = v.title;
  auto state = state_name(v.state);
  i["state"] = json::string_view(state.data(), state.size());
  i["open"] = v.state == State::open;
  i["author"] = name(name_of, v.author);
  i["author_id"] = v.author;
  i["created_ms"] = v.created_ms;
  i["updated_ms"] = v.updated_ms;
  if (!v.closed_by.empty()) {
    i["closed_by"] = v.closed_by;
    i["closed_by_short"] = v.closed_by.substr(0, 12);
  }
  i["body_html"] = v.body.empty() ? std::string() : markdown(v.body);
  i["has_body"] = !v.body.empty();
  i["labels"] = label_links(v.repo, v.labels);
  i["has_labels"] = !v.labels.empty();
  json::array assignees;
  for (const auto& a : v.assignees) assignees.emplace_back(a);
  i["assignees"] = std::move(assignees);
  i["has_assignees"] = !v.assignees.empty();
  json::array comments;
  for (const auto& c : v.comments) {
    comments.push_back(json::object{{"id", c.id},
                                    {"short_id", c.id.substr(0, 8)},
                                    {"author", name(name_of, c.author)},
                                    {"created_ms", c.created_ms},
                                    {"edited", c.edited_ms != 0},
                                    {"body_html", markdown(c.body)}});
  }
  i["comment_count"] = comments.size();
  i["comments_text"] =
      std::to_string(comments.size()) + (comments.size() == 1 ? " comment" : " comments");
  json::object o;
  o["repo"] = v.repo;
  o["base"] = board_base(v.repo);
  o["action"] = issue_path(v.repo, v.ref);
  o["issue"] = std::move(i);
  o["comments"] = std::move(comments);
  return o;
}

std::vector<std::string> repo_labels(const Repo& repo) {
  std::set<std::string> labels;
  for (const auto& [id, i] : repo.issues) {
    for (const auto& l : i.labels.values()) labels.insert(l);
  }
  return {labels.begin(), labels.end()};
}

json::object issue_context(const IssueView& v, const std::vector<std::string>& known_labels,
                           std::string thread_html, std::string flash) {
  json::array known;
  for (const auto& l : known_labels) known.emplace_back(l);
  json::object o;
  o["repo"] = v.repo;
  o["base"] = board_base(v.repo);
  o["channel"] = board_channel(v.repo);
  o["action"] = issue_path(v.repo, v.ref);
  o["id"] = v.id;
  o["ref"] = v.ref;
  o["title"] = v.title;
  o["body"] = v.body;
  o["known_labels"] = std::move(known);
  if (!flash.empty()) o["flash"] = std::move(flash);
  o["thread_html"] = std::move(thread_html);
  return o;
}

json::object new_issue_context(const std::string& repo, const std::string& title,
                               const std::string& body, const std::string& labels,
                               const std::string& flash) {
  json::object o{
      {"repo", repo}, {"base", board_base(repo)}, {"action", board_base(repo)}, {"title", title},
      {"body", body}, {"labels", labels}};
  if (!flash.empty()) o["flash"] = flash;
  return o;
}

json::object message_context(const std::string& repo, const std::string& heading,
                             const std::string& text, const std::vector<Link>& links) {
  json::array l;
  for (const auto& x : links) l.push_back(json::object{{"text", x.text}, {"href", x.href}});
  return json::object{{"repo", repo}, {"heading", heading}, {"text", text}, {"links", l}};
}

}  // namespace mesh::issues
