// What `mesh ci status` and `mesh ci runners` print for people: aligned tables (the JSON forms
// are run_status.hpp's and cli.cpp's).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "run_state.hpp"

namespace mesh::ci {

// "now", "42s", "5m", "3h", "2d".
std::string age(std::uint64_t then_ms, std::uint64_t now_ms);
// Rows padded to the widest cell of each column (in code points), two spaces apart.
std::string table(const std::vector<std::vector<std::string>>& rows);

using NameOf = std::function<std::string(std::string_view node)>;
std::string status_table(const std::vector<const RunState*>& runs, const NameOf& name_of,
                         std::uint64_t now_ms);
std::string run_detail(const RunState& run, const NameOf& name_of, std::uint64_t now_ms);

}  // namespace mesh::ci
