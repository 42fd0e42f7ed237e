// Run and job states as every node shows them (CLI.md: `ci status`).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mesh::ci {

// queued -> assigned -> running -> passed | failed | cancelled; or no-runner.
enum class RunPhase : std::uint8_t {
  queued,
  assigned,
  running,
  passed,
  failed,
  cancelled,
  no_runner
};
// pending -> running -> passed | failed | cancelled; pending -> skipped | cancelled | failed.
enum class JobPhase : std::uint8_t { pending, running, passed, failed, cancelled, skipped };

// runner.fallback in mesh-ci.yml.
enum class Fallback : std::uint8_t {
  none,  // only runners with every label; none up: the run ends `no-runner`
  any,   // no labelled runner: any runner that has the job's mode
};

std::string_view to_string(RunPhase p);
std::string_view to_string(JobPhase p);
std::optional<RunPhase> run_phase_from(std::string_view s);
std::optional<JobPhase> job_phase_from(std::string_view s);

inline bool is_terminal(RunPhase p) {
  return p >= RunPhase::passed;
}
inline bool is_terminal(JobPhase p) {
  return p >= JobPhase::passed;
}

}  // namespace mesh::ci
