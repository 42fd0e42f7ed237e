#include "logs.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <set>

#include "duration.hpp"
#include "ids.hpp"
#include "job_log.hpp"

namespace mesh::ci {
namespace {

constexpr std::size_t kLiveCapBytes = 64u << 20;     // every live buffer together
constexpr std::uint64_t kIncompleteWaitMs = 30'000;  // after the end, for the last segments

std::string duration_of(const JobLogView& j) {
  if (!j.started_ms || j.ended_ms < j.started_ms) return {};
  std::uint64_t ms = j.ended_ms - j.started_ms;
  return ms < 1000 ? " in <1s" : " in " + format_duration(ms - ms % 1000);
}

}  // namespace

bool LiveLogs::add(const LiveChunk& c) {
  Key key{c.run, c.attempt, c.job};
  auto it = bufs_.find(key);
  if (it == bufs_.end()) {
    if (c.offset != 0) return false;
    it = bufs_.emplace(key, std::string()).first;
    order_.push_back(key);
  }
  std::string& buf = it->second;
  if (c.offset > buf.size()) return false;
  if (c.offset + c.data.size() <= buf.size()) return true;  // seen (our own, twice)
  std::size_t skip = buf.size() - c.offset;
  buf.append(c.data, skip, std::string::npos);
  bytes_ += c.data.size() - skip;
  while (bytes_ > kLiveCapBytes && !order_.empty()) {
    auto old = bufs_.find(order_.front());
    if (old != bufs_.end()) {
      bytes_ -= old->second.size();
      bufs_.erase(old);
    }
    order_.pop_front();
  }
  return true;
}

const std::string* LiveLogs::find(const std::string& run, std::uint32_t attempt,
                                  const std::string& job) const {
  auto it = bufs_.find(Key{run, attempt, job});
  return it == bufs_.end() ? nullptr : &it->second;
}

void LiveLogs::forget_run(const std::string& run) {
  for (auto it = bufs_.begin(); it != bufs_.end();) {
    if (std::get<0>(it->first) == run) {
      bytes_ -= it->second.size();
      it = bufs_.erase(it);
    } else {
      ++it;
    }
  }
  order_.remove_if([&](const Key& k) { return std::get<0>(k) == run; });
}

std::vector<JobLogView> read_logs(Shared& s, const LiveLogs& live, const RunState& run,
                                  const std::string& job) {
  std::vector<JobLogView> out;
  const Attempt* cur = run.current();
  std::map<std::string, JobLog> stored;
  if (cur) {
    std::string err;
    std::set<std::pair<std::string, std::uint64_t>> seen;
    for (const auto& e : s.store.segments(run.id, &err)) {
      if (e.from.origin != cur->node || !seen.insert({e.from.origin, e.from.seq}).second) continue;
      auto r = decode_record(e.payload);
      if (!r) continue;
      const auto* seg = std::get_if<LogSegment>(&r->body);
      if (!seg || seg->attempt != cur->number) continue;
      if (!job.empty() && seg->job != job) continue;
      if (auto st = stored[seg->job].add(*seg); !st) {
        s.log(Level::warn, "run " + short_run_id(run.id) + ": log segment " +
                               std::to_string(seg->seq) + " of " + seg->job +
                               " refused: " + st.error().message);
      }
    }
    if (!err.empty()) s.log(Level::warn, "run " + short_run_id(run.id) + ": " + err);
  }
  for (const auto& j : run.jobs) {
    if (!job.empty() && j.name != job) continue;
    JobLogView v;
    v.name = j.name;
    v.phase = j.phase;
    v.exit_code = j.exit_code;
    v.reason = j.reason;
    v.started_ms = j.started_ms;
    v.ended_ms = j.ended_ms;
    auto it = stored.find(j.name);
    if (it != stored.end()) {
      v.log = it->second.text();
      v.complete = it->second.complete();
      v.dropped = it->second.dropped();
    }
    if (!v.complete && cur) {
      const std::string* l = live.find(run.id, cur->number, j.name);
      if (l && l->size() > v.log.size()) v.log = *l;
    }
    if (j.phase == JobPhase::pending || (is_terminal(j.phase) && !j.started_ms)) v.complete = true;
    out.push_back(std::move(v));
  }
  return out;
}

void refresh_logs(const LiveLogs& live, const RunState& run, std::vector<JobLogView>& jobs) {
  const Attempt* cur = run.current();
  for (auto& v : jobs) {
    const JobState* j = run.job(v.name);
    if (!j) continue;
    v.phase = j->phase;
    v.exit_code = j->exit_code;
    v.reason = j->reason;
    v.started_ms = j->started_ms;
    v.ended_ms = j->ended_ms;
    if (!v.complete && cur) {
      const std::string* l = live.find(run.id, cur->number, v.name);
      if (l && l->size() > v.log.size()) v.log = *l;
    }
  }
}

std::string job_header(const JobLogView& j) {
  return "==> " + j.name + " <==\n";
}

std::string job_footer(const JobLogView& j) {
  std::string s = "[" + j.name + " " + std::string(to_string(j.phase));
  if (j.phase == JobPhase::passed || j.phase == JobPhase::failed || j.phase == JobPhase::cancelled)
    s += duration_of(j);
  if (j.phase != JobPhase::passed && !j.reason.empty()) {
    s += ": " + j.reason;
  } else if (j.exit_code && j.phase != JobPhase::passed) {
    s += ": exit code " + std::to_string(*j.exit_code);
  }
  if (is_terminal(j.phase) && !j.complete && j.started_ms)
    s += "; the log is not complete on this node yet";
  return s + "]\n";
}

std::string logs_text(const RunState& run, const std::vector<JobLogView>& jobs) {
  (void)run;
  std::string out;
  for (const auto& j : jobs) {
    out += job_header(j);
    out += j.log;
    if (!j.log.empty() && j.log.back() != '\n') out += "\n";
    if (is_terminal(j.phase)) {
      out += job_footer(j);
    } else if (j.phase == JobPhase::running) {
      out += "[" + j.name + " is running]\n";
    } else {
      out += "[" + j.name + " is pending]\n";
    }
  }
  return out;
}

std::string logs_json(const RunState& run, const std::vector<JobLogView>& jobs) {
  boost::json::object o;
  o["run"] = run.id;
  o["state"] = to_string(run.phase);
  boost::json::array a;
  for (const auto& j : jobs) {
    boost::json::object x;
    x["name"] = j.name;
    x["state"] = to_string(j.phase);
    x["log"] = j.log;
    x["complete"] = j.complete;
    x["reason"] = j.reason;
    a.push_back(std::move(x));
  }
  o["jobs"] = std::move(a);
  return boost::json::serialize(o);
}

void Followers::add(std::uint64_t call, const RunState& run, const std::string& job, bool json) {
  Follow f;
  f.call = call;
  f.run = run.id;
  f.job = job;
  f.json = json;
  if (follows_.size() >= 256) {
    s_.env.cli_respond(call, 1, "too many logs are being followed on this node (256)\n");
    return;
  }
  follows_.push_back(std::move(f));
  if (advance(follows_.back())) follows_.pop_back();
}

void Followers::update(const std::string& run, bool stored) {
  for (auto it = follows_.begin(); it != follows_.end();) {
    if (it->run == run && stored) it->stale = true;
    if (it->run == run && advance(*it)) {
      it = follows_.erase(it);
    } else {
      ++it;
    }
  }
}

void Followers::tick() {
  for (auto it = follows_.begin(); it != follows_.end();) {
    // An empty chunk tells whether the client is still there.
    bool gone = !it->json && !s_.env.cli_chunk(it->call, "");
    if (gone || advance(*it)) {
      if (gone) s_.env.cli_respond(it->call, 0, "");
      it = follows_.erase(it);
    } else {
      ++it;
    }
  }
}

void Followers::stop() {
  for (auto& f : follows_) s_.env.cli_respond(f.call, 1, "the ci plugin stopped\n");
  follows_.clear();
}

bool Followers::advance(Follow& f) {
  const RunState* run = s_.book.find(f.run);
  if (!run) {
    s_.env.cli_respond(f.call, 1, "run " + short_run_id(f.run) + " is gone from this node\n");
    return true;
  }
  if (f.stale || f.jobs.empty()) {
    f.jobs = read_logs(s_, live_, *run, f.job);
    f.stale = false;
  } else {
    refresh_logs(live_, *run, f.jobs);
  }
  auto& jobs = f.jobs;
  bool ended = is_terminal(run->phase);
  if (ended && !f.ended_mono) f.ended_mono = s_.mono_ms();
  bool all_complete = std::all_of(jobs.begin(), jobs.end(), [](const JobLogView& j) {
    return j.complete || !is_terminal(j.phase);
  });
  bool give_up = ended && s_.mono_ms() - f.ended_mono > kIncompleteWaitMs;
  if (f.json) {
    if (!ended || (!all_complete && !give_up)) return false;
    s_.env.cli_respond(f.call, 0, logs_json(*run, jobs) + "\n");
    return true;
  }
  while (f.current < jobs.size()) {
    JobLogView& j = jobs[f.current];
    if (!f.header) {
      if (!s_.env.cli_chunk(f.call, job_header(j))) return s_.env.cli_respond(f.call, 0, ""), true;
      f.header = true;
    }
    if (j.log.size() > f.printed) {
      std::string more = j.log.substr(f.printed);
      if (!s_.env.cli_chunk(f.call, more)) return s_.env.cli_respond(f.call, 0, ""), true;
      f.printed = j.log.size();
    }
    bool job_done = is_terminal(j.phase) && (j.complete || give_up);
    if (!job_done) return false;
    std::string tail;
    if (f.printed && j.log.back() != '\n') tail = "\n";
    tail += job_footer(j);
    if (!s_.env.cli_chunk(f.call, tail)) return s_.env.cli_respond(f.call, 0, ""), true;
    ++f.current;
    f.header = false;
    f.printed = 0;
  }
  if (!ended) return false;
  s_.env.cli_respond(f.call, run->phase == RunPhase::passed ? 0 : 0,
                     "run " + short_run_id(run->id) + " " + std::string(to_string(run->phase)) +
                         (run->reason.empty() ? "" : ": " + run->reason) + "\n");
  return true;
}

}  // namespace mesh::ci
