// `mesh repos` as text, from the `repos` JSON (SDK-free). The repo pages are the browse plugin's.
#pragma once

#include <string>

namespace mesh::repl {

// The table and, under it, every divergence with the commands that resolve it.
std::string repos_text(const std::string& repos_json);

}  // namespace mesh::repl
