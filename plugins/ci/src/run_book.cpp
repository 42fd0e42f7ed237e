#include "run_book.hpp"

#include <algorithm>
#include <tuple>

#include "limits.hpp"

namespace mesh::ci {
namespace {

bool is_control(const Record& r) {
  return !std::holds_alternative<LogSegment>(r.body) &&
         !std::holds_alternative<SlotClaimed>(r.body) &&
         !std::holds_alternative<SlotMissed>(r.body);
}

// A cheap identity of what the CLI shows, to tell whether a replay changed anything.
std::string fingerprint(const RunState& s) {
  std::string f = std::to_string(static_cast<int>(s.phase)) + "|" + s.reason + "|" +
                  std::to_string(s.attempts.size()) + "|" + std::to_string(s.updated_ms) + "|" +
                  (s.cancel ? "c" : "") + "|" + s.originator;
  for (const auto& a : s.attempts) {
    f += "|" + a.node + (a.claimed ? "+" : "-") + std::to_string(a.lease_until_ms) + a.declined;
  }
  for (const auto& j : s.jobs) {
    f += "|" + std::to_string(static_cast<int>(j.phase)) + ":" +
         std::to_string(j.exit_code.value_or(-999)) + ":" + std::to_string(j.started_ms) + ":" +
         std::to_string(j.ended_ms);
  }
  return f;
}

}  // namespace

bool RunBook::before(const Envelope& a, const Envelope& b) {
  return std::tie(a.lamport, a.origin, a.seq) < std::tie(b.lamport, b.origin, b.seq);
}

RunBook::Applied RunBook::apply(const Record& r, const Envelope& from) {
  Applied out;
  if (!is_control(r)) {
    out.notes.push_back(std::string(record_type(r)) + " is not a run control record");
    return out;
  }
  auto it = runs_.find(r.run);
  if (it == runs_.end()) {
    if (runs_.size() >= max_runs_) {
      out.notes.push_back("run " + short_run_id(r.run) + ": this node already tracks " +
                          std::to_string(max_runs_) + " runs");
      return out;
    }
    it = runs_.emplace(r.run, Run{}).first;
    it->second.state.id = r.run;
  }
  Run& run = it->second;
  for (const auto& e : run.entries) {
    if (e.from.origin == from.origin && e.from.seq == from.seq) return out;  // seen
  }
  if (run.entries.size() >= limits::kRecordsPerRun) {
    out.notes.push_back("run " + short_run_id(r.run) + ": more than " +
                        std::to_string(limits::kRecordsPerRun) + " records, " +
                        std::string(record_type(r)) + " from " + from.origin + " ignored");
    return out;
  }
  auto pos = std::upper_bound(run.entries.begin(), run.entries.end(), from,
                              [](const Envelope& f, const Entry& e) { return before(f, e.from); });
  bool at_end = pos == run.entries.end();
  pos = run.entries.insert(pos, Entry{from, r, {}});
  std::string label = std::string(record_type(r)) + " from " + from.origin + ": ";
  if (at_end) {
    std::string before_fp = fingerprint(run.state);
    pos->verdict = apply_record(run.state, r, from);
    out.accepted = pos->verdict.empty();
    if (!out.accepted) out.notes.push_back(label + pos->verdict);
    out.changed = out.accepted && fingerprint(run.state) != before_fp;
    return out;
  }
  // It belongs in the past: fold the whole run again.
  std::string before_fp = fingerprint(run.state);
  RunState fresh;
  fresh.id = r.run;
  for (auto& e : run.entries) {
    std::string verdict = apply_record(fresh, e.record, e.from);
    bool is_new = &e == &*pos;
    if (is_new) {
      out.accepted = verdict.empty();
      if (!out.accepted) out.notes.push_back(label + verdict);
    } else if (verdict != e.verdict) {
      std::string l = std::string(record_type(e.record)) + " from " + e.from.origin + ": ";
      out.notes.push_back(l + (verdict.empty() ? "now accepted after a replay" : verdict));
    }
    e.verdict = std::move(verdict);
  }
  run.state = std::move(fresh);
  out.changed = fingerprint(run.state) != before_fp;
  return out;
}

const RunState* RunBook::find(std::string_view id) const {
  auto it = runs_.find(id);
  return it == runs_.end() || !it->second.state.created ? nullptr : &it->second.state;
}

std::vector<const RunState*> RunBook::find_prefix(std::string_view prefix) const {
  std::vector<const RunState*> out;
  for (auto it = runs_.lower_bound(prefix); it != runs_.end() && it->first.starts_with(prefix);
       ++it) {
    if (it->second.state.created) out.push_back(&it->second.state);
  }
  return out;
}

std::vector<const RunState*> RunBook::runs() const {
  std::vector<const RunState*> out;
  for (const auto& [id, run] : runs_) {
    if (run.state.created) out.push_back(&run.state);
  }
  std::sort(out.begin(), out.end(), [](const RunState* a, const RunState* b) {
    return std::tie(a->created_ms, a->id) > std::tie(b->created_ms, b->id);
  });
  return out;
}

void RunBook::forget(std::string_view id) {
  auto it = runs_.find(id);
  if (it != runs_.end()) runs_.erase(it);
}

}  // namespace mesh::ci
