// The repos as this node shows them, from the `repos` JSON (SDK-free): `mesh repos` as text,
// and the context of the repos section of the node page (web/repos_section.mustache). The repo
// pages are the browse plugin's.
#pragma once

#include <cstddef>
#include <string>

namespace mesh::repl {

// The table and, under it, every divergence with the commands that resolve it.
std::string repos_text(const std::string& repos_json);

// The repos section's template context (JSON): each repo with at most `max_refs` refs, its
// divergences with the commands that resolve them, and `port` for the push hint.
std::string repos_section_context(const std::string& repos_json, const std::string& port,
                                  std::size_t max_refs = 20);

// `repos_json` for `mesh status --json`, within `cap` bytes: the refs of every repo are left
// out ("refs_omitted": true, `mesh repos --json` has them) when the whole would not fit.
std::string repos_status_json(const std::string& repos_json, std::size_t cap);

}  // namespace mesh::repl
