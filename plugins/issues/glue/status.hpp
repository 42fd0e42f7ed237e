// The plugin's part of `mesh status` (status_set, ABI 1.3) and of `mesh issues status`: the
// board's counters, the ops that wait for their issues, the last refusals and the journal.
#pragma once

#include <string>
#include <string_view>

#include "service.hpp"

namespace mesh::issues {

// {"repos","issues","applied","refused","duplicates","deferred","non_member","waiting",
//  "waiting_bytes","waiting_peak","refused_by_reason":{..},"waiting_for":[{"origin","repo",
//  "count","issue"}],"recent_refusals":[{"origin","seq","repo","issue","reason","message"}],
//  "journal":{"cursor","replayed","rebuilding","failures"}}
std::string status_json(const Service& s);
// A heading line, then indented lines.
std::string status_text(const Service& s);
// For the node page: a .box with the same facts, every string escaped.
std::string status_html(const Service& s);

std::string html_escape(std::string_view text);

}  // namespace mesh::issues
