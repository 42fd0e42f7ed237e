// From a pipeline and a trigger to the run.created record that starts a run (or the reason
// there is none), and from a run to what its runner must offer.
#pragma once

#include <optional>
#include <string>

#include "assignment.hpp"
#include "pipeline.hpp"
#include "records.hpp"
#include "result.hpp"

namespace mesh::ci {

struct Commit {
  std::string repo;
  std::string ref;  // "refs/heads/main"
  std::string sha;
};

// A push of `commit`: a run of the whole pipeline when on.push is on and the branch matches
// on.push.branches; nullopt otherwise (tags never start push runs).
std::optional<RunCreated> plan_push(const Pipeline& p, const Commit& commit);

// `mesh ci run REPO REF [--job JOB]`: refused when on.manual is off or JOB is unknown. The
// trigger key makes each request a run of its own (ids.hpp).
Result<RunCreated> plan_manual(const Pipeline& p, const Commit& commit, const std::string& job,
                               const std::string& trigger_key);

// A cron slot of schedule entry `s`: its job and the job's dependencies, or the whole pipeline.
RunCreated plan_schedule(const Pipeline& p, const Schedule& s, const Commit& commit,
                         const std::string& slot_id);

// A run whose pipeline could not be read: no jobs; the originator ends it `failed` with the
// parse errors right after creating it.
RunCreated plan_broken(const Commit& commit, const std::string& trigger,
                       const std::string& trigger_key);

// The modes, labels and fallback an assignee must satisfy.
Requirements requirements_of(const RunCreated& run);

}  // namespace mesh::ci
