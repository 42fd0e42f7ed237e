// The files an update leaves in the plugin's data directory (<root>/data/updater/), shared
// with the watchdog (`mesh __update-watch`, cli/update_commands.cpp), which writes the
// outcome. Formats in docs/updates.md.
//   pending.json  an update or rollback in progress: {"attempt","kind","from","to",
//                 "started_ms","watchdog_pid"}
//   last.json     how the last one ended: the same plus "result" ("updated", "rolled_back",
//                 "aborted", "broken"), "reason", "running", "ended_ms"
//   highest.json  the anti-rollback mark (rollback.hpp)
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "errors.hpp"

namespace mesh::updater {

inline constexpr std::string_view kPendingFile = "pending.json";
inline constexpr std::string_view kLastFile = "last.json";
inline constexpr std::string_view kHighestFile = "highest.json";

struct Attempt {
  std::string attempt;  // random hex id
  std::string kind;     // "update" or "rollback"
  std::string from;
  std::string to;
  std::int64_t started_ms = 0;
  std::int64_t watchdog_pid = 0;
  // last.json only:
  std::string result;
  std::string reason;
  std::string running;
  std::int64_t ended_ms = 0;
};

// nullopt when the file does not exist; an error when it is unreadable or malformed.
Result<std::optional<Attempt>> read_attempt(const std::filesystem::path& file);
Status write_attempt(const std::filesystem::path& file, const Attempt& a);
std::string attempt_json(const Attempt& a);

// One line for mesh status and the log: "updated from 0.1.0 to 0.2.0" or
// "rolled back from 0.2.0 to 0.1.0: plugin replication is failed (...)".
std::string describe(const Attempt& a);

std::string random_attempt_id();
std::int64_t now_ms();

}  // namespace mesh::updater
