// The JSON the CLI prints with --json (keys fixed by CLI.md: `issues list` and `issues show`)
// and the web layer renders from. Extra keys only ever get added.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "query.hpp"

namespace mesh::issues {

// A member's display name for an origin id; may return the id itself (or be empty: ids then).
using NameOf = std::function<std::string(std::string_view origin)>;

// list: {"id","num","ref","title","state","labels","assignees","author","author_id",
//        "created_ms","updated_ms","order"[,"closed_by"][,"labels_truncated"]...}
// show adds "body" and "comments":[{"id","author","author_id","body","created_ms","edited_ms"}].
boost::json::object issue_json(const IssueView& view, bool with_details, const NameOf& name_of);
std::string list_json(const std::vector<IssueView>& views, const NameOf& name_of);
std::string show_json(const IssueView& view, const NameOf& name_of);

}  // namespace mesh::issues
