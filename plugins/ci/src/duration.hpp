// Job timeouts as people write them: "90s", "10m", "1h30m", "2h".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "result.hpp"

namespace mesh::ci {

// Parses [<n>h][<n>m][<n>s] (at least one part, in that order, no spaces) into milliseconds.
// Refuses zero, a missing unit, and anything above max_ms (with a message that says so).
Result<std::uint64_t> parse_duration(std::string_view text, std::uint64_t max_ms);

// The inverse for messages and records: "1h30m", "90s" -> "1m30s", 0 -> "0s".
std::string format_duration(std::uint64_t ms);

}  // namespace mesh::ci
