#include "issue_json.hpp"

namespace mesh::issues {
namespace json = boost::json;
namespace {

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

std::string name(const NameOf& name_of, const std::string& origin) {
  if (!name_of) return origin;
  std::string n = name_of(origin);
  return n.empty() ? origin : n;
}

}  // namespace

json::object issue_json(const IssueView& v, bool with_details, const NameOf& name_of) {
  json::object o;
  o["id"] = v.id;
  o["num"] = v.num;
  o["ref"] = v.ref;
  o["title"] = v.title;
  auto state = state_name(v.state);
  o["state"] = json::string_view(state.data(), state.size());
  if (!v.closed_by.empty()) o["closed_by"] = v.closed_by;
  o["labels"] = strings(v.labels);
  if (v.labels_truncated) o["labels_truncated"] = true;
  o["assignees"] = strings(v.assignees);
  if (v.assignees_truncated) o["assignees_truncated"] = true;
  o["author"] = name(name_of, v.author);
  o["author_id"] = v.author;
  o["created_ms"] = v.created_ms;
  o["updated_ms"] = v.updated_ms;
  o["order"] = v.order;
  if (with_details) {
    o["body"] = v.body;
    json::array comments;
    for (const auto& c : v.comments) {
      json::object jc;
      jc["id"] = c.id;
      jc["author"] = name(name_of, c.author);
      jc["author_id"] = c.author;
      jc["body"] = c.body;
      jc["created_ms"] = c.created_ms;
      jc["edited_ms"] = c.edited_ms;
      comments.push_back(std::move(jc));
    }
    o["comments"] = std::move(comments);
  }
  return o;
}

std::string list_json(const std::vector<IssueView>& views, const NameOf& name_of) {
  json::array a;
  for (const auto& v : views) a.push_back(issue_json(v, false, name_of));
  return json::serialize(a);
}

std::string show_json(const IssueView& view, const NameOf& name_of) {
  return json::serialize(issue_json(view, true, name_of));
}

}  // namespace mesh::issues
