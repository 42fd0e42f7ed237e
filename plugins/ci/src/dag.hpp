// The jobs of a pipeline as a DAG (depends_on): validation, a topological order, and the
// scheduling questions a runner asks while it works through a run.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "result.hpp"
#include "states.hpp"

namespace mesh::ci {

struct DagNode {
  std::string name;
  std::vector<std::string> needs;
};

class Dag {
 public:
  Dag() = default;
  // Refuses duplicate names, unknown or repeated dependencies, a job needing itself, and
  // cycles ("dependency cycle: a -> b -> a"). *bad_job (may be NULL) receives the index of the
  // job the error is about.
  static Result<Dag> build(const std::vector<DagNode>& nodes, std::size_t* bad_job = nullptr);

  std::size_t size() const { return names_.size(); }
  const std::string& name(std::size_t i) const { return names_[i]; }
  std::optional<std::size_t> index(std::string_view name) const;
  const std::vector<std::size_t>& needs(std::size_t i) const { return needs_[i]; }
  // Every job after all of its dependencies; among jobs that are ready together, the one
  // declared first comes first.
  const std::vector<std::size_t>& order() const { return order_; }

  // The selected jobs and everything they depend on, in declaration order (`ci run --job`,
  // a schedule naming one job).
  std::vector<std::size_t> with_dependencies(const std::vector<std::size_t>& selected) const;

  // Pending jobs whose dependencies all passed, in order(), as many as fit next to the jobs
  // already running under max_parallel (at least 1).
  std::vector<std::size_t> ready(std::span<const JobPhase> phases, std::size_t max_parallel) const;
  // Pending jobs that can never run because a dependency failed, was cancelled or skipped:
  // they become `skipped`. Transitive in one call.
  std::vector<std::size_t> doomed(std::span<const JobPhase> phases) const;
  // Every job has reached a terminal state.
  bool finished(std::span<const JobPhase> phases) const;

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<std::size_t>> needs_;
  std::vector<std::size_t> order_;
};

}  // namespace mesh::ci
