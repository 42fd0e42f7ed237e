// Which node runs a run: ranked from what each member's heartbeat says about its runners. The
// originator decides (itself included); for cron, every node elects the same slot runner.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "states.hpp"

namespace mesh::ci {

struct RunnerInfo {
  std::string name;
  std::vector<std::string> modes;
  std::vector<std::string> labels;
  std::uint32_t slots = 1;
  std::uint32_t free = 0;
};

// A member as the ci plugin's heartbeat part describes it (heartbeat.hpp).
struct NodeInfo {
  std::string id;  // "mesh:..."
  bool up = false;
  double load = 0;  // reported load per core (0 = idle)
  std::vector<RunnerInfo> runners;
};

struct Requirements {
  std::vector<std::string> modes;   // every mode the run's jobs use
  std::vector<std::string> labels;  // runner.labels
  Fallback fallback = Fallback::none;
};

struct Candidate {
  std::string node;
  std::vector<std::pair<std::string, std::string>> runners;  // mode -> runner, sorted by mode
  std::uint32_t free = 0;  // free slots of its busiest chosen runner
  double load = 0;
  bool labelled = false;  // has every required label (false only under fallback: any)
};

// The up, not excluded nodes that can run every mode, best first: every label (under
// fallback: any, unlabelled nodes come after all labelled ones, busy or not), then a free slot,
// then lower load, then more free slots, then the lowest SHA-256(run id, node), so equal nodes
// share the work across runs and every caller gets the same order. Per mode a node offers the
// runner with the most free slots (then the lowest name).
std::vector<Candidate> rank_candidates(const Requirements& req, const std::vector<NodeInfo>& nodes,
                                       const std::vector<std::string>& exclude,
                                       std::string_view run_id);

struct Decision {
  enum class Kind { assign, wait, no_runner };
  Kind kind = Kind::no_runner;
  Candidate pick;      // assign
  std::string reason;  // wait / no_runner: shown as the run's reason
};

// assign: the best candidate has a free slot. wait: the best candidates are busy (the run stays
// queued; the originator tries again as heartbeats change); a busy labelled runner is waited
// for rather than falling back to an unlabelled one, since fallback applies only when no
// labelled runner is up. no_runner: nothing
// eligible is up (with fallback: none, nothing unlabelled is considered), with a reason naming
// the labels and modes that were missing.
Decision decide_assignment(const Requirements& req, const std::vector<NodeInfo>& nodes,
                           const std::vector<std::string>& exclude, std::string_view run_id);

// The up nodes able to run req (labels per the fallback rule), free slots or not: the
// candidates of a cron slot election (ids.hpp: elect_slot_runner).
std::vector<std::string> eligible_nodes(const Requirements& req,
                                        const std::vector<NodeInfo>& nodes);

}  // namespace mesh::ci
