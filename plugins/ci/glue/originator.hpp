// The originator's duties (docs/ci.md, "Who writes what"): this node received a push, ran
// `mesh ci run` or won a cron slot, so it creates the run, assigns it to the best runner, and
// watches the attempt: a decline, a claim that does not come within 10 s or a lease that runs
// out makes it reassign (or end the run with the reasons); a cancel before the claim, a queue
// that never frees up or a run over its time make it end the run. Every member also reaps
// orphans, runs whose originator is gone as well.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pipeline_at.hpp"
#include "plan.hpp"
#include "refs_push.hpp"
#include "shared.hpp"

namespace mesh::ci {

class Originator {
 public:
  explicit Originator(Shared& s) : s_(s) {}

  // A push this node received (without the lock). Creates a run per pushed branch whose
  // pipeline wants it and returns one line per run for the pusher.
  std::vector<std::string> on_push(const RefsPush& push);
  // `mesh ci run REPO REF [--job JOB]` (without the lock): the new run's id.
  Result<std::string> run_manual(const std::string& repo, const std::string& what,
                                 const std::string& job);

  // (lock held) Publishes run.created and makes the first assignment at once. `broken` is the
  // failure reason of a pipeline that did not parse (the run is ended failed with it).
  // `prefer` (cron) is the node to assign to when it can take the run. Returns the note line.
  std::string create(const RunCreated& c, const std::string& broken, const Pipeline* pipeline,
                     const std::string& prefer = {});

  // (lock held) A record of `run` was accepted from `from`.
  void on_record(const RunState& run, const Envelope& from);
  // (lock held) About once a second, for every run that has not ended.
  void step(const RunState& run);

 private:
  struct Memo {
    std::string acted;  // the state this node last acted on (waiting for its record back)
    std::uint64_t acted_at = 0;
    std::uint32_t assigned_attempt = 0;  // the attempt this node assigned, at assigned_mono
    std::uint64_t assigned_mono = 0;
    std::uint32_t heard_attempt = 0;  // the assignee of that attempt was last heard at
    std::uint64_t heard_mono = 0;
    std::uint64_t waiting_since = 0;  // mono: queued (or between attempts) since
    std::uint64_t budget_ms = 0;      // the jobs' timeouts together, 0: unknown
    bool budget_read = false;
  };

  void step_own(const RunState& run, Memo& m);
  void reap_orphan(const RunState& run, Memo& m);
  // Assigns attempt `attempt` (reason: why the previous one was replaced). Returns the node
  // it went to, or empty when the run waits or ended.
  std::string assign(const std::string& id, const RunCreated& spec, std::uint32_t attempt,
                     const std::vector<std::string>& exclude, const std::string& why,
                     const std::string& prefer, std::string* decision_reason, Memo& m);
  void reassign(const RunState& run, const std::string& why, Memo& m);
  void end(const RunState& run, RunPhase state, const std::string& reason, Memo& m);
  void acted(const RunState& run, Memo& m);
  static std::string step_key(const RunState& run);
  std::uint64_t budget(const RunState& run, Memo& m);

  Shared& s_;
  std::map<std::string, Memo> memo_;
};

}  // namespace mesh::ci
