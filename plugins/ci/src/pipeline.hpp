// .mesh/mesh-ci.yml as a typed value, read at the commit being built.
//
//   pipeline: { name: build }
//   on:
//     push: { branches: [main, "release/**", "!release/old"] }
//     schedule: [{ cron: "0 3 * * *", job: test }]
//     manual: true
//   runner: { labels: [linux], fallback: any }
//   jobs:
//     build: { mode: shell, commands: ["make -j2"], timeout: 10m }
//     test:  { mode: docker, image: localhost/busybox, commands: ["./run-tests"],
//              depends_on: [build], secrets: [API_TOKEN], env: { LEVEL: "2" } }
//
// docs/ci.md describes every key, its default and its limit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "branch_glob.hpp"
#include "cron.hpp"
#include "dag.hpp"
#include "yaml_walk.hpp"

namespace mesh::ci {

inline constexpr std::string_view kPipelinePath = ".mesh/mesh-ci.yml";

struct Schedule {
  Cron cron;
  std::string job;     // empty: the whole pipeline; else this job and its dependencies
  std::string branch;  // empty: the repo's default branch
};

struct Triggers {
  bool push = true;
  BranchFilter branches;  // on.push.branches; every branch when not given
  std::vector<Schedule> schedules;
  bool manual = true;
};

struct Job {
  std::string name;
  std::string mode;   // "shell", "docker", or a runner's own mode
  std::string image;  // container modes
  std::vector<std::string> commands;
  std::vector<std::string> depends_on;
  std::vector<std::string> secrets;  // names from secrets.yml
  std::uint64_t timeout_ms = 0;
  std::vector<std::pair<std::string, std::string>> env;  // in file order
};

struct Pipeline {
  std::string name = "ci";
  Triggers on;
  std::vector<std::string> labels;
  Fallback fallback = Fallback::none;
  std::vector<Job> jobs;  // in file order; dag indexes the same way
  Dag dag;

  const Job* job(std::string_view name) const;
  // The distinct modes of the given jobs (all jobs when empty), sorted.
  std::vector<std::string> modes(const std::vector<std::size_t>& jobs = {}) const;
};

struct PipelineParse {
  std::optional<Pipeline> pipeline;  // set when there were no errors
  std::vector<Diagnostic> errors;    // by position
  // What a failed run records: "mesh-ci.yml:3:5: unknown key 'job' (did you mean 'jobs'?)",
  // one line per error, at most limits::kReasonBytes.
  std::string reason;
};

// Parses and validates everything (structure, types, names, limits, DAG, cron, schedule jobs),
// collecting up to limits::kErrors errors. `file` names the file in messages.
PipelineParse parse_pipeline(std::string_view text, std::string_view file = "mesh-ci.yml");

}  // namespace mesh::ci
