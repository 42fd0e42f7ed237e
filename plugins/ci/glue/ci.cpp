#include "ci.hpp"

#include <boost/json.hpp>

#include <fstream>
#include <map>

#include "heartbeat.hpp"
#include "ids.hpp"
#include "refs_push.hpp"

namespace mesh::ci {
namespace json = boost::json;
namespace fs = std::filesystem;
namespace {

constexpr std::uint64_t kHeartbeatEveryMs = 5'000;
constexpr std::uint64_t kAnnounceEveryMs = 5'000;
constexpr std::uint64_t kCronEveryMs = 5'000;
constexpr std::uint64_t kRetentionEveryMs = 3600'000;
constexpr std::uint64_t kLiveKeepMs = 120'000;

std::string read_cursor(const fs::path& file) {
  std::ifstream in(file);
  std::string name;
  in >> name;
  return name;
}

}  // namespace

Ci::Ci(Env& env, Settings settings, fs::path data_dir, fs::path repos_dir, std::string self_id,
       std::string self_name)
    : s_(std::make_unique<Shared>(env, std::move(settings), std::move(data_dir),
                                  std::move(repos_dir), std::move(self_id), std::move(self_name))) {
  origin_ = std::make_unique<Originator>(*s_);
  worker_ = std::make_unique<Worker>(*s_);
  sched_ = std::make_unique<Scheduler>(*s_, *origin_);
  follow_ = std::make_unique<Followers>(*s_, live_);
  cli_ = std::make_unique<CiCli>(*s_, *origin_, live_, *follow_);
  web_ = std::make_unique<CiWeb>(*s_, live_);
}

Ci::~Ci() {
  stop();
}

std::string Ci::open() {
  fs::path cursor_file = s_->data_dir / "cursor";
  std::string cursor = read_cursor(cursor_file);
  if (cursor.empty()) cursor = "records";
  std::string err;
  std::lock_guard lock(s_->mu);
  bool ok = s_->store.prepare(&err) && s_->store.replay(
                                           [&](const std::string& run, const StoredEvent& e) {
                                             auto r = decode_record(e.payload);
                                             if (r && r->run == run) s_->book.apply(*r, e.from);
                                           },
                                           [&](const StoredEvent& e) {
                                             auto r = decode_record(e.payload);
                                             if (r) s_->slots.apply(*r, e.from);
                                           },
                                           &err);
  if (!ok) {
    // Only a cache: start afresh and have the host deliver every record again.
    s_->log(Level::warn, "the ci store is unusable (" + err + "); rebuilding it from the feeds");
    s_->store.wipe();
    s_->book = RunBook(s_->settings.max_runs);
    s_->slots = SlotBook();
    std::string ignored;
    s_->store.prepare(&ignored);
    cursor = "records-" + std::to_string(s_->now_ms());
    std::ofstream(cursor_file, std::ios::trunc) << cursor << "\n";
  }
  for (const RunState* r : s_->book.runs()) {
    if (!is_terminal(r->phase)) open_runs_.insert(r->id);
  }
  s_->refresh_members(true);
  return cursor;
}

bool Ci::on_event(const Envelope& from, std::string_view topic, std::string_view payload) {
  if (stopped_) return false;
  if (topic == kLiveTopic) {
    auto c = decode_live_chunk(payload);
    if (!c) return true;
    std::lock_guard lock(s_->mu);
    if (live_.add(*c)) follow_->update(c->run, false);
    web_->live(*c);
    return true;
  }
  if (topic != kTopic) return true;
  auto r = decode_record(payload);
  if (!r) {
    s_->log(Level::warn, "ignoring a ci record from " + from.origin + ": " + r.error().message);
    return true;
  }
  StoredEvent se{from, std::string(payload)};
  std::string err;
  std::lock_guard lock(s_->mu);
  if (std::holds_alternative<LogSegment>(r->body)) {
    bool full = false;
    if (!s_->store.append_segment(r->run, se, &err, &full)) {
      if (full) {  // taken (not retried), not kept
        s_->log(Level::warn, "dropping a log segment from " + from.origin + ": " + err);
        return true;
      }
      s_->log(Level::error, "cannot store a log segment: " + err);
      return false;
    }
    follow_->update(r->run);
    web_->segment(r->run);
    return true;
  }
  if (std::holds_alternative<SlotClaimed>(r->body) || std::holds_alternative<SlotMissed>(r->body)) {
    if (!s_->store.append_slot(se, &err)) {
      s_->log(Level::error, "cannot store a slot record: " + err);
      return false;
    }
    std::string why = s_->slots.apply(*r, from);
    if (!why.empty() && why != "duplicate")
      s_->log(Level::debug, "slot record from " + from.origin + ": " + why);
    return true;
  }
  if (!s_->store.append_control(r->run, se, &err)) {
    s_->log(Level::error, "cannot store a ci record: " + err);
    return false;
  }
  auto applied = s_->book.apply(*r, from);
  for (const auto& note : applied.notes) {
    s_->log(Level::info, "run " + short_run_id(r->run) + ": " + note);
  }
  if (applied.accepted || applied.changed) after_change(r->run, from);
  return true;
}

void Ci::after_change(const std::string& id, const Envelope& from) {
  const RunState* run = s_->book.find(id);
  if (!run) return;
  if (is_terminal(run->phase)) {
    open_runs_.erase(id);
    ended_live_.emplace(id, s_->mono_ms());
  } else {
    open_runs_.insert(id);
  }
  s_->refresh_members();
  origin_->on_record(*run, from);
  worker_->on_change(*run);
  follow_->update(id);
  web_->changed(*run);
}

void Ci::on_refs(const Envelope& from, std::string_view payload) {
  if (stopped_ || from.origin != s_->self) return;  // relayed: its own node acted on it
  auto push = decode_refs_push(payload);
  if (!push) {
    s_->log(Level::warn, "ignoring a refs event: " + push.error().message);
    return;
  }
  std::vector<std::string> notes;
  std::uint64_t now = s_->now_ms();
  if (from.wall_ms + s_->settings.push_max_age_ms < now) {
    s_->log(Level::info, "a push to " + push->repo + " from " +
                             std::to_string((now - from.wall_ms) / 1000) +
                             " s ago starts no run (older than push_max_age_ms)");
  } else if (push->clock != 0) {  // clock 0: replication recording an existing mirror
    notes = origin_->on_push(*push);
  }
  json::array lines;
  for (const auto& n : notes) lines.emplace_back(n);
  json::object note{{"repo", push->repo},
                    {"clock", push->clock},
                    {"provider", "ci"},
                    {"lines", std::move(lines)}};
  std::string err;
  s_->env.publish(kPushNoteTopic, json::serialize(note), &err);
}

void Ci::on_repo_updated(const std::string& repo) {
  if (stopped_) return;
  std::lock_guard lock(s_->mu);
  worker_->repo_updated(repo);
}

void Ci::tick() {
  if (stopped_ || ticking_.exchange(true)) return;
  struct Done {
    std::atomic<bool>& f;
    ~Done() { f = false; }
  } done{ticking_};
  bool cron = false;
  {
    std::lock_guard lock(s_->mu);
    std::uint64_t now = s_->mono_ms();
    s_->refresh_members();
    std::vector<std::string> ids(open_runs_.begin(), open_runs_.end());
    for (const auto& id : ids) {
      if (const RunState* r = s_->book.find(id)) {
        if (is_terminal(r->phase)) {
          open_runs_.erase(id);
          continue;
        }
        origin_->step(*r);
        worker_->on_change(*r);
      }
    }
    worker_->tick();
    follow_->tick();
    web_->flush();
    // The live output of ended runs is not needed once their stored logs had time to arrive.
    for (auto it = ended_live_.begin(); it != ended_live_.end();) {
      if (now - it->second < kLiveKeepMs) {
        ++it;
        continue;
      }
      live_.forget_run(it->first);
      it = ended_live_.erase(it);
    }
    std::string hb = heartbeat_part_json(s_->advertised(), s_->env.load());
    if (now - last_heartbeat_ >= kHeartbeatEveryMs || hb != last_heartbeat_json_) {
      s_->env.set_heartbeat(hb);
      last_heartbeat_json_ = hb;
      last_heartbeat_ = now;
    }
    if (now - last_announce_ >= kAnnounceEveryMs) {
      std::string err;
      s_->env.publish(kPushNoteTopic, R"({"provider":"ci","ttl_ms":15000})", &err);
      last_announce_ = now;
    }
    if (!last_retention_ || now - last_retention_ >= kRetentionEveryMs) {
      last_retention_ = now;
      retention();
    }
    if (now - last_cron_ >= kCronEveryMs) {
      last_cron_ = now;
      cron = true;
    }
  }
  if (cron) sched_->tick();
}

CliOut Ci::cli(std::uint64_t call, const std::vector<std::string>& args, bool json) {
  if (stopped_) return {1, "the ci plugin is stopping\n"};
  return cli_->run(call, args, json);
}

void Ci::stop() {
  if (stopped_.exchange(true)) return;
  worker_->stop();
  std::lock_guard lock(s_->mu);
  follow_->stop();
}

void Ci::retention() {
  std::uint64_t now = s_->now_ms();
  std::uint64_t keep_ms = std::uint64_t{s_->settings.retention_days} * 86'400'000;
  std::uint64_t cutoff = now > keep_ms ? now - keep_ms : 0;
  std::vector<std::string> drop;
  std::size_t n = 0;
  for (const RunState* r : s_->book.runs()) {
    ++n;
    bool old = r->created_ms < cutoff;
    bool over = n > s_->settings.max_runs;
    if ((old || over) && (is_terminal(r->phase) || old)) drop.push_back(r->id);
  }
  for (const auto& id : drop) {
    s_->book.forget(id);
    s_->store.remove_run(id);
    live_.forget_run(id);
    open_runs_.erase(id);
  }
  if (!drop.empty())
    s_->log(Level::info, "forgot " + std::to_string(drop.size()) + " CI runs (retention)");
  std::int64_t before_s = static_cast<std::int64_t>(cutoff / 1000);
  s_->slots.prune(before_s);
  std::string err;
  if (!s_->store.compact_slots(
          [&](const StoredEvent& e) {
            auto r = decode_record(e.payload);
            if (!r) return false;
            if (auto* c = std::get_if<SlotClaimed>(&r->body)) return c->key.at_s >= before_s;
            if (auto* m = std::get_if<SlotMissed>(&r->body)) return m->key.at_s >= before_s;
            return false;
          },
          &err))
    s_->log(Level::warn, "cannot compact the slot records: " + err);
}

std::string Ci::status_json() {
  std::lock_guard lock(s_->mu);
  std::map<std::string, int> by_state;
  for (const auto& id : open_runs_) {
    if (const RunState* r = s_->book.find(id)) ++by_state[std::string(to_string(r->phase))];
  }
  json::object states;
  for (const auto& [k, v] : by_state) states[k] = v;
  json::object o{{"runs", s_->book.size()},
                 {"open", std::move(states)},
                 {"running_here", worker_->active()},
                 {"runs_jobs", s_->runs_jobs()}};
  return json::serialize(json::object{{"ci", std::move(o)}});
}

std::string Ci::status_text() {
  std::lock_guard lock(s_->mu);
  std::size_t queued = 0, running = 0;
  for (const auto& id : open_runs_) {
    if (const RunState* r = s_->book.find(id)) (r->phase == RunPhase::running ? running : queued)++;
  }
  std::string out = "CI\n  " + std::to_string(running) + " running, " + std::to_string(queued) +
                    " waiting; " + std::to_string(worker_->active()) + " on this node\n";
  auto offered = s_->advertised();
  if (!s_->runs_jobs()) {
    out += "  this node runs no jobs ([runner] enabled = false; opt in: mesh runner enable)\n";
  } else {
    for (const auto& r : offered)
      out += "  runner " + r.name + ": " + std::to_string(r.free) + "/" + std::to_string(r.slots) +
             " free\n";
  }
  return out;
}

}  // namespace mesh::ci
