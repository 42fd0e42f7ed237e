#include "scheduler.hpp"

#include <fstream>

#include "ids.hpp"
#include "plan.hpp"

namespace mesh::ci {

Scheduler::Scheduler(Shared& s, Originator& o) : s_(s), o_(o) {
  std::ifstream in(s_.data_dir / "cron.state");
  long long v = 0;
  if (in >> v && v > 0) scanned_s_ = v;
}

void Scheduler::save_state(std::int64_t scanned_s) {
  auto tmp = s_.data_dir / "cron.state.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << scanned_s << "\n";
    if (!out) return;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, s_.data_dir / "cron.state", ec);
}

void Scheduler::remember(const std::string& id, std::int64_t at_s) {
  // Until this node's own slot record comes back through the feed.
  mine_[id] = at_s;
  std::int64_t horizon = at_s - kLookBackS - kClaimGraceS;
  for (auto it = mine_.begin(); it != mine_.end();) {
    it = it->second < horizon ? mine_.erase(it) : std::next(it);
  }
}

void Scheduler::tick() {
  std::int64_t now_s = static_cast<std::int64_t>(s_.now_ms() / 1000);
  if (scanned_s_ == 0) scanned_s_ = now_s;  // a new node starts with no history to catch up on
  std::int64_t from = std::max(scanned_s_, now_s - kMaxCatchUpS);
  for (const auto& repo : s_.git.repos()) scan_repo(repo, from, now_s);
  if (now_s > scanned_s_) {
    scanned_s_ = now_s;
    save_state(now_s);
  }
}

void Scheduler::scan_repo(const std::string& repo, std::int64_t from_s, std::int64_t now_s) {
  auto branch = s_.git.default_branch(repo);
  if (!branch) return;
  auto tip = s_.git.branch_tip(repo, *branch);
  if (!tip) return;
  Cached& c = pipelines_[repo];
  if (c.sha != *tip) {
    c.sha = *tip;
    PipelineAt at = read_pipeline(s_.git, repo, *tip);
    c.pipeline = std::move(at.pipeline);
  }
  if (!c.pipeline || c.pipeline->on.schedules.empty()) return;
  const Pipeline& p = *c.pipeline;
  for (const auto& sched : p.on.schedules) {
    std::string b = sched.branch.empty() ? *branch : sched.branch;
    auto btip = b == *branch ? tip : s_.git.branch_tip(repo, b);
    if (!btip) {
      if (warned_.insert(repo + "\n" + b).second)
        s_.log(Level::warn, repo + ": schedule '" + sched.cron.text() + "' builds branch " + b +
                                ", which does not exist");
      continue;
    }
    // Recent slots are looked at every tick; older ones (this node was off) once, as misses.
    std::int64_t recent_from = std::max(from_s, now_s - kLookBackS);
    bool truncated = false;
    for (auto at : sched.cron.slots_between(recent_from - 1, now_s, 64, &truncated))
      slot(repo, p, sched, b, *btip, at, now_s, false);
    if (from_s < recent_from) {
      for (auto at : sched.cron.slots_between(from_s, recent_from - 1, 16, &truncated))
        slot(repo, p, sched, b, *btip, at, now_s, true);
    }
  }
}

void Scheduler::slot(const std::string& repo, const Pipeline& p, const Schedule& sched,
                     const std::string& branch, const std::string& tip, std::int64_t at_s,
                     std::int64_t now_s, bool catch_up) {
  SlotKey key{repo, branch, p.name, sched.job, at_s};
  std::string id = slot_id(key);
  {
    std::lock_guard lock(s_.mu);
    if (s_.slots.taken(id) || mine_.count(id)) return;
  }
  // The pipeline of the commit built decides the jobs (the schedule comes from the default
  // branch's).
  Commit commit{repo, "refs/heads/" + branch, tip};
  PipelineAt built;
  const Pipeline* use = &p;
  std::string broken;
  if (tip != pipelines_[repo].sha) {
    built = read_pipeline(s_.git, repo, tip);
    if (!built.pipeline) {
      broken = built.present ? built.error : "no .mesh/mesh-ci.yml on branch " + branch;
    } else if (!sched.job.empty() && !built.pipeline->job(sched.job)) {
      broken = "branch " + branch + " has no job " + sched.job;
    } else {
      use = &*built.pipeline;
    }
  }
  RunCreated run = broken.empty() ? plan_schedule(*use, sched, commit, id)
                                  : plan_broken(commit, "schedule", trigger_key_schedule(id));
  std::lock_guard lock(s_.mu);
  if (s_.slots.taken(id) || mine_.count(id)) return;
  s_.refresh_members();
  auto nodes = s_.nodes();
  auto eligible = eligible_nodes(
      requirements_of(broken.empty() ? run : plan_schedule(p, sched, commit, id)), nodes);
  bool anyone = !eligible.empty();
  if (!anyone) {
    // Nobody can run it: the node that records the miss is elected among all that are up.
    for (const auto& n : nodes) {
      if (n.up) eligible.push_back(n.id);
    }
  }
  if (elect_slot_runner(id, eligible) != s_.self) return;
  std::int64_t late = now_s - at_s;
  if (anyone && !catch_up && late <= kClaimGraceS) {
    std::string run_id_ = run_id(run.repo, run.ref, run.sha, run.trigger_key);
    if (!s_.publish(Record{run_id_, SlotClaimed{key, id, run_id_}})) return;
    remember(id, at_s);
    std::string note = o_.create(run, broken, broken.empty() ? use : nullptr, s_.self);
    s_.log(Level::info,
           repo + ": cron " + sched.cron.text() + " at " + format_utc_minute(at_s) + ": " + note);
    return;
  }
  if (!anyone && late < 60) return;  // someone eligible may still come up this minute
  std::string why = catch_up ? "this node was not running at " + format_utc_minute(at_s)
                    : anyone ? "no eligible node claimed it within " +
                                   std::to_string(kClaimGraceS / 60) + " minutes"
                             : "no eligible runner was up";
  SlotMissed m{key, id, why};
  if (s_.publish(Record{{}, m})) {
    remember(id, at_s);
    s_.log(Level::info, repo + ": cron " + sched.cron.text() + " slot " + format_utc_minute(at_s) +
                            " missed: " + why);
  }
}

}  // namespace mesh::ci
