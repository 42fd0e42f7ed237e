#include "plan.hpp"

#include <algorithm>

#include "ids.hpp"
#include "names.hpp"

namespace mesh::ci {
namespace {

RunCreated base(const Pipeline& p, const Commit& c, std::string trigger, std::string key,
                const std::vector<std::size_t>& jobs) {
  RunCreated r;
  r.repo = c.repo;
  r.ref = c.ref;
  r.sha = c.sha;
  r.trigger = std::move(trigger);
  r.trigger_key = std::move(key);
  r.pipeline = p.name;
  r.labels = p.labels;
  r.fallback = p.fallback;
  for (auto i : jobs) {
    const Job& j = p.jobs[i];
    r.jobs.push_back(JobSpec{j.name, j.mode, j.depends_on});
  }
  return r;
}

std::vector<std::size_t> all_jobs(const Pipeline& p) {
  std::vector<std::size_t> out(p.jobs.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = i;
  return out;
}

std::vector<std::size_t> selected(const Pipeline& p, const std::string& job) {
  if (job.empty()) return all_jobs(p);
  auto i = p.dag.index(job);
  return i ? p.dag.with_dependencies({*i}) : std::vector<std::size_t>{};
}

}  // namespace

std::optional<RunCreated> plan_push(const Pipeline& p, const Commit& c) {
  if (!p.on.push || !p.on.branches.matches_ref(c.ref)) return std::nullopt;
  return base(p, c, "push", trigger_key_push(), all_jobs(p));
}

Result<RunCreated> plan_manual(const Pipeline& p, const Commit& c, const std::string& job,
                               const std::string& trigger_key) {
  if (!p.on.manual)
    return fail("manual runs are off for this pipeline (set on.manual: true in " +
                std::string(kPipelinePath) + ")");
  if (!job.empty() && !p.job(job)) {
    std::string known;
    for (const auto& j : p.jobs) known += " " + j.name;
    return fail("no job '" + job + "' in " + std::string(kPipelinePath) + " (jobs:" + known + ")");
  }
  if (!trigger_key.starts_with("manual:")) return fail("not a manual trigger key");
  return base(p, c, "manual", trigger_key, selected(p, job));
}

RunCreated plan_schedule(const Pipeline& p, const Schedule& s, const Commit& c,
                         const std::string& slot) {
  return base(p, c, "schedule", trigger_key_schedule(slot), selected(p, s.job));
}

RunCreated plan_broken(const Commit& c, const std::string& trigger, const std::string& key) {
  RunCreated r;
  r.repo = c.repo;
  r.ref = c.ref;
  r.sha = c.sha;
  r.trigger = trigger;
  r.trigger_key = key;
  return r;
}

Requirements requirements_of(const RunCreated& run) {
  Requirements req;
  for (const auto& j : run.jobs) {
    if (std::find(req.modes.begin(), req.modes.end(), j.mode) == req.modes.end())
      req.modes.push_back(j.mode);
  }
  std::sort(req.modes.begin(), req.modes.end());
  req.labels = run.labels;
  req.fallback = run.fallback;
  return req;
}

}  // namespace mesh::ci
