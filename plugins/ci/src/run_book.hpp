// Every run this node knows, folded deterministically from the `ci` records of every origin.
//
// Per-origin order is guaranteed by gossip, the order across origins is not. So the book keeps
// each run's control records sorted by (lamport, origin, seq) -- an order consistent with
// causality, because a node's Lamport clock passes every event it has stored -- and the state
// is the fold of apply_record over that order. A record that arrives "in the past" makes the
// book replay the run, so every node that holds the same records holds the same state,
// whatever order they came in.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "records.hpp"
#include "run_state.hpp"

namespace mesh::ci {

class RunBook {
 public:
  struct Applied {
    bool accepted = false;  // the record was new and the fold accepted it
    bool changed = false;   // the run's state changed (also through a replay)
    // Why records were ignored: the new one, and earlier ones whose verdict a replay changed.
    std::vector<std::string> notes;
  };

  explicit RunBook(std::size_t max_runs = 10'000) : max_runs_(max_runs) {}

  // A control record of r.run (run.created ... run.cancel). Log segments and slot records do
  // not belong here (notes say so). A duplicate (origin, seq) is a no-op.
  Applied apply(const Record& r, const Envelope& from);

  const RunState* find(std::string_view id) const;
  // Runs whose id starts with prefix (`mesh ci logs my-app 3f2a`).
  std::vector<const RunState*> find_prefix(std::string_view prefix) const;
  // Every created run, newest first (by creation wall clock, then id).
  std::vector<const RunState*> runs() const;
  std::size_t size() const { return runs_.size(); }
  // Forgets a run (log retention); its records arriving again would start it afresh.
  void forget(std::string_view id);

 private:
  struct Entry {
    Envelope from;
    Record record;
    std::string verdict;  // empty: accepted
  };
  struct Run {
    std::vector<Entry> entries;  // sorted by (lamport, origin, seq)
    RunState state;
  };
  static bool before(const Envelope& a, const Envelope& b);

  std::size_t max_runs_;
  std::map<std::string, Run, std::less<>> runs_;
};

}  // namespace mesh::ci
