// Human forms of what the daemon answers in JSON: ages, local times, short ids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mesh::cli {

// Wall clock, unix ms.
std::int64_t now_ms();
// "12s ago", "3m ago", "5h ago", "2d ago"; "never" for 0; "just now" for a time ahead of now.
std::string ago(std::int64_t unix_ms, std::int64_t now = now_ms());
// "in 9m 58s", "in 2h", "in 3d"; "expired" once past.
std::string in(std::int64_t unix_ms, std::int64_t now = now_ms());
// Local time, "2026-12-03 15:04:05 CET".
std::string local_time(std::int64_t unix_ms);
// The first 12 characters of an id after "mesh:" (what tables show; a valid id prefix), or
// the full id with wide.
std::string shown_id(const std::string& id, bool wide);
std::string joined(const std::vector<std::string>& items, const std::string& sep);

}  // namespace mesh::cli
