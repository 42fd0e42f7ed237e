#include "cli_text.hpp"

#include <algorithm>

#include "duration.hpp"
#include "ids.hpp"
#include "names.hpp"

namespace mesh::ci {
namespace {

std::size_t width(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string short_ref(const std::string& ref) {
  std::string_view b = branch_of(ref);
  if (!b.empty()) return std::string(b);
  if (ref.starts_with("refs/tags/")) return ref.substr(10);
  return ref;
}

std::string took(const JobState& j) {
  if (!j.started_ms || j.ended_ms < j.started_ms) return "";
  std::uint64_t ms = j.ended_ms - j.started_ms;
  return ms < 1000 ? "<1s" : format_duration(ms - ms % 1000);
}

std::string state_text(const RunState& r) {
  std::string s(to_string(r.phase));
  if (!r.reason.empty()) s += ": " + r.reason;
  return s;
}

}  // namespace

std::string age(std::uint64_t then_ms, std::uint64_t now_ms) {
  if (!then_ms || now_ms <= then_ms) return "now";
  std::uint64_t s = (now_ms - then_ms) / 1000;
  if (s == 0) return "now";
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> w;
  for (const auto& row : rows) {
    if (w.size() < row.size()) w.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], width(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(w[i] - width(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string status_table(const std::vector<const RunState*>& runs, const NameOf& name_of,
                         std::uint64_t now_ms) {
  std::vector<std::vector<std::string>> rows{
      {"RUN", "REPO", "REF", "SHA", "TRIGGER", "STATE", "RUNNER", "AGE", "JOBS"}};
  for (const RunState* r : runs) {
    std::string jobs;
    for (const auto& j : r->jobs)
      jobs += (jobs.empty() ? "" : " ") + j.name + ":" + std::string(to_string(j.phase));
    rows.push_back({short_run_id(r->id), r->spec.repo, short_ref(r->spec.ref),
                    r->spec.sha.substr(0, 12), r->spec.trigger, std::string(to_string(r->phase)),
                    r->assignee().empty() ? "-" : name_of(r->assignee()),
                    age(r->created_ms, now_ms), jobs.empty() ? "-" : jobs});
  }
  std::string out = table(rows);
  // Reasons are long: below the table, one line per run that has one.
  for (const RunState* r : runs) {
    if (!r->reason.empty() && r->phase != RunPhase::passed)
      out +=
          short_run_id(r->id) + ": " + std::string(to_string(r->phase)) + ": " + r->reason + "\n";
  }
  return out;
}

std::string run_detail(const RunState& r, const NameOf& name_of, std::uint64_t now_ms) {
  std::vector<std::vector<std::string>> head{
      {"run", r.id},
      {"repo", r.spec.repo},
      {"ref", short_ref(r.spec.ref) + " @ " + r.spec.sha},
      {"pipeline", r.spec.pipeline.empty() ? "-" : r.spec.pipeline},
      {"trigger", r.spec.trigger},
      {"state", state_text(r)},
      {"created", age(r.created_ms, now_ms) + " ago by " + name_of(r.originator)}};
  if (const Attempt* a = r.current()) {
    head.push_back({"runner", name_of(a->node) + " (attempt " + std::to_string(a->number) + ")"});
    for (std::size_t i = 1; i < r.attempts.size(); ++i) {
      head.push_back({"", "attempt " + std::to_string(r.attempts[i].number) +
                              " after: " + r.attempts[i].reassign_reason});
    }
  }
  if (r.cancel)
    head.push_back({"cancel", r.cancel->reason.empty() ? "requested by " + name_of(r.cancel->by)
                                                       : r.cancel->reason});
  std::string out = table(head);
  if (r.jobs.empty()) return out;
  std::vector<std::vector<std::string>> rows{{"JOB", "MODE", "STATE", "EXIT", "TIME", "REASON"}};
  for (const auto& j : r.jobs) {
    rows.push_back({j.name, j.mode, std::string(to_string(j.phase)),
                    j.exit_code ? std::to_string(*j.exit_code) : "-", took(j),
                    j.phase == JobPhase::passed ? "" : j.reason});
  }
  return out + "\n" + table(rows);
}

}  // namespace mesh::ci
