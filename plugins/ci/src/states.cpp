#include "states.hpp"

#include <array>

namespace mesh::ci {
namespace {

constexpr std::array<std::string_view, 7> kRun = {"queued", "assigned",  "running",  "passed",
                                                  "failed", "cancelled", "no-runner"};
constexpr std::array<std::string_view, 6> kJob = {"pending", "running",   "passed",
                                                  "failed",  "cancelled", "skipped"};

}  // namespace

std::string_view to_string(RunPhase p) {
  return kRun[static_cast<std::size_t>(p)];
}
std::string_view to_string(JobPhase p) {
  return kJob[static_cast<std::size_t>(p)];
}

std::optional<RunPhase> run_phase_from(std::string_view s) {
  for (std::size_t i = 0; i < kRun.size(); ++i) {
    if (kRun[i] == s) return static_cast<RunPhase>(i);
  }
  return std::nullopt;
}

std::optional<JobPhase> job_phase_from(std::string_view s) {
  for (std::size_t i = 0; i < kJob.size(); ++i) {
    if (kJob[i] == s) return static_cast<JobPhase>(i);
  }
  return std::nullopt;
}

}  // namespace mesh::ci
