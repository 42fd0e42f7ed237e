// Shared helpers of the ci unit tests: node ids, shas, and records built the way a real
// originator and assignee would write them.
#pragma once

#include <string>
#include <vector>

#include "ids.hpp"
#include "records.hpp"
#include "run_state.hpp"

namespace mesh::ci::test {

// "mesh:" + 52 base32 characters made from one letter: distinct, valid node ids.
inline std::string node(char c) {
  return "mesh:" + std::string(52, c);
}
inline std::string sha(char c) {
  return std::string(40, c);
}

inline RunCreated created(std::vector<JobSpec> jobs = {{"build", "shell", {}},
                                                       {"test", "docker", {"build"}}}) {
  RunCreated c;
  c.repo = "my-app";
  c.ref = "refs/heads/main";
  c.sha = sha('a');
  c.trigger = "push";
  c.trigger_key = trigger_key_push();
  c.pipeline = "build";
  c.labels = {"linux"};
  c.fallback = Fallback::any;
  c.jobs = std::move(jobs);
  return c;
}

inline std::string id_of(const RunCreated& c) {
  return run_id(c.repo, c.ref, c.sha, c.trigger_key);
}

inline RunAssigned assigned(std::uint32_t attempt, const std::string& to, std::string reason = {}) {
  RunAssigned a;
  a.attempt = attempt;
  a.node = to;
  a.runners = {{"docker", "docker"}, {"shell", "shell"}};
  a.claim_by_ms = 20'000;
  a.reason = std::move(reason);
  return a;
}

inline JobUpdate job(std::uint32_t attempt, const std::string& name, JobPhase state,
                     std::optional<std::int32_t> exit_code = std::nullopt) {
  JobUpdate u;
  u.attempt = attempt;
  u.job = name;
  u.state = state;
  u.exit_code = exit_code;
  return u;
}

inline RunEnded ended(std::uint32_t attempt, RunPhase state, std::string reason = {}) {
  RunEnded e;
  e.attempt = attempt;
  e.state = state;
  e.reason = std::move(reason);
  return e;
}

}  // namespace mesh::ci::test
