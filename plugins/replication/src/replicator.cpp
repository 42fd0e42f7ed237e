#include "replicator.hpp"

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "names.hpp"
#include "state_file.hpp"
#include "tls_stream.hpp"

namespace mesh::repl {
namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxPayload = 64 * 1024;
constexpr std::size_t kMaxHeartbeat = 8 * 1024;
constexpr std::size_t kMaxPendingFile = 64 * 1024 * 1024;

const json::string* str_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v ? v->if_string() : nullptr;
}

json::object change_json(const RefChange& c) {
  return {{"ref", c.ref}, {"old", c.old_oid}, {"new", c.new_oid}};
}

// Parses and validates one change of an event or of pending.json.
std::optional<RefChange> parse_change(const json::value& v) {
  auto* o = v.if_object();
  if (!o) return std::nullopt;
  auto *ref = str_at(*o, "ref"), *old = str_at(*o, "old"), *nw = str_at(*o, "new");
  if (!ref || !old || !nw || !valid_ref_name(*ref) || !valid_oid(*old) || !valid_oid(*nw)) {
    return std::nullopt;
  }
  return RefChange{std::string(*ref), std::string(*old), std::string(*nw)};
}

std::string backoff_note(int attempts) {
  return "attempt " + std::to_string(attempts);
}

}  // namespace

Replicator::Replicator(Mirrors& mirrors, Services& services, ReplicatorOptions options)
    : mirrors_(mirrors),
      services_(services),
      options_(std::move(options)),
      tombs_({.file = options_.state_dir / "tombstones.json"}) {}

Replicator::~Replicator() {
  stop();
}

std::string Replicator::key_of(const std::string& id) {
  return id.starts_with("mesh:") ? id.substr(5) : id;
}

void Replicator::start() {
  std::string err;
  tombs_.load(&err);
  if (!err.empty()) services_.log(Services::warn, err);
  load();
  refresh_heartbeat();
  for (std::size_t i = 0; i < std::max<std::size_t>(1, options_.workers); ++i) {
    workers_.emplace_back([this] { run(); });
  }
}

void Replicator::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  ack_cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

std::size_t Replicator::pending() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

// ---- out: after a push ----

bool Replicator::pushed(const std::string& repo, const std::vector<RefChange>& all) {
  std::vector<RefChange> changes;
  for (const auto& c : all) {
    if (!valid_ref_name(c.ref)) {
      // refs/mesh/* (parked tips) stay local by design; anything else is a name we refuse to
      // hand to other nodes, which the pusher should hear about.
      if (!c.ref.starts_with("refs/mesh/")) {
        services_.log(Services::warn, "repo " + repo + ": not replicating " + c.ref +
                                          ": only refs/heads/* and refs/tags/* with safe names "
                                          "(no component starting with '-' or '.') replicate");
      }
      continue;
    }
    changes.push_back(c);
    if (c.new_oid != kZeroOid) mirrors_.clear_resolved(repo, c.ref);
  }
  remember(repo, changes);
  mirrors_.fix_head(repo);
  refresh_heartbeat();
  if (changes.empty()) return true;
  {
    // Acknowledgements count from now on (wait_replicated() collects and forgets them).
    std::lock_guard lock(ack_mu_);
    if (acks_.size() > 10'000) acks_.clear();  // nobody waited for those
    for (const auto& c : changes) acks_[{repo, c.ref, c.new_oid}];
  }
  bool ok = true;
  // Split so that every event stays far below the 64 KiB payload cap.
  for (std::size_t i = 0; i < changes.size(); i += options_.max_updates_per_event) {
    json::array updates;
    bool forced = false;
    for (std::size_t j = i; j < std::min(changes.size(), i + options_.max_updates_per_event); ++j) {
      updates.push_back(change_json(changes[j]));
      const auto& c = changes[j];
      forced = forced || (c.old_oid != kZeroOid && c.new_oid != kZeroOid &&
                          !mirrors_.contains(repo, c.new_oid, c.old_oid));
    }
    json::object ev{{"repo", repo}, {"updates", std::move(updates)}, {"forced", forced}};
    std::string err;
    if (!services_.publish(kRefsTopic, json::serialize(ev), &err)) {
      services_.log(Services::error, "repo " + repo + ": cannot publish the refs event: " + err);
      ok = false;
    }
  }
  return ok;
}

std::string Replicator::wait_replicated(const std::string& repo,
                                        const std::vector<RefChange>& changes,
                                        std::chrono::milliseconds wait) {
  auto peers = services_.peers();
  std::set<std::string> up;
  for (const auto& p : peers) {
    if (p.up) up.insert(p.id);
  }
  std::vector<std::tuple<std::string, std::string, std::string>> keys;
  for (const auto& c : changes) {
    if (valid_ref_name(c.ref)) keys.emplace_back(repo, c.ref, c.new_oid);
  }
  const std::size_t total = peers.size() + 1;
  auto count = [&] {
    std::size_t k = up.size();
    for (const auto& key : keys) {
      auto it = acks_.find(key);
      std::size_t n = 0;
      if (it != acks_.end()) {
        for (const auto& id : it->second) n += up.count(id) ? 1 : 0;
      }
      k = std::min(k, n);
    }
    return keys.empty() ? up.size() : k;
  };
  std::unique_lock lock(ack_mu_);
  ack_cv_.wait_for(lock, wait, [&] { return count() >= up.size() || stopping_; });
  std::size_t have = 1 + count();
  for (const auto& key : keys) acks_.erase(key);
  return "replicated to " + std::to_string(have) + "/" + std::to_string(total) + " nodes";
}

// ---- in: events ----

bool Replicator::on_refs(const std::string& origin, std::string_view payload) {
  if (origin == options_.self_id) return true;  // our own push
  auto reject = [&](const std::string& why) {
    services_.log(Services::warn, "dropping a refs event from " + origin + ": " + why);
    return true;  // malformed input never gets better by retrying
  };
  if (payload.size() > kMaxPayload) return reject("too large");
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  auto* o = ec ? nullptr : v.if_object();
  if (!o) return reject("not a JSON object");
  auto* repo = str_at(*o, "repo");
  auto* updates = o->if_contains("updates");
  if (!repo || !valid_repo_name(*repo)) return reject("invalid repo name");
  if (!updates || !updates->is_array() || updates->as_array().empty() ||
      updates->as_array().size() > 1000) {
    return reject("invalid updates");
  }
  Job job;
  job.kind = Job::event;
  job.origin = origin;
  job.repo = std::string(*repo);
  for (const auto& u : updates->as_array()) {
    auto c = parse_change(u);
    if (!c) return reject("invalid update in repo " + job.repo);
    job.changes.push_back(std::move(*c));
  }
  std::lock_guard lock(mu_);
  if (jobs_.size() >= options_.max_pending) return false;
  enqueue_locked(std::move(job));
  return true;
}

void Replicator::on_ack(const std::string& origin, std::string_view payload) {
  if (payload.size() > kMaxPayload) return;
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  auto* o = ec ? nullptr : v.if_object();
  if (!o) return;
  auto* repo = str_at(*o, "repo");
  auto* refs = o->if_contains("refs");
  if (!repo || !refs || !refs->is_object()) return;
  std::lock_guard lock(ack_mu_);
  for (const auto& [ref, oid] : refs->as_object()) {
    if (!oid.is_string()) continue;
    auto key = std::make_tuple(std::string(*repo), std::string(ref), std::string(oid.as_string()));
    // Only pushes that are being waited for keep their acks (bounded by the waiters).
    if (auto it = acks_.find(key); it != acks_.end()) it->second.insert(origin);
  }
  ack_cv_.notify_all();
}

void Replicator::ack(const std::string& repo, const std::vector<RefChange>& done) {
  if (done.empty()) return;
  json::object refs;
  for (const auto& c : done) refs[c.ref] = c.new_oid;
  std::string err;
  services_.publish(kAckTopic, json::serialize(json::object{{"repo", repo}, {"refs", refs}}), &err);
}

// ---- the worker ----

void Replicator::enqueue_locked(Job job) {
  jobs_.push_back(std::move(job));
  if (jobs_.back().kind == Job::event) save_locked();
  cv_.notify_all();
}

// Several workers; jobs of one repo run one at a time and in queue order, so a slow fetch of
// one repo does not hold up the others.
void Replicator::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = Clock::now();
    auto ready = std::find_if(jobs_.begin(), jobs_.end(), [&](const Job& j) {
      return j.not_before <= now && !busy_.contains(j.repo);
    });
    if (ready == jobs_.end()) {
      // A finished job notifies, so waiting for a busy repo's next job needs no deadline.
      auto next = Clock::now() + std::chrono::seconds(1);
      for (const auto& j : jobs_) {
        if (!busy_.contains(j.repo)) next = std::min(next, j.not_before);
      }
      cv_.wait_until(lock, next);
      continue;
    }
    Job job = std::move(*ready);
    jobs_.erase(ready);
    busy_.insert(job.repo);
    lock.unlock();
    process(job);
    lock.lock();
    busy_.erase(job.repo);
    cv_.notify_all();
    if (job.attempts > 0) {
      // process() asks for another try by raising attempts.
      if (job.attempts > options_.max_attempts) {
        services_.log(Services::error,
                      "repo " + job.repo + ": giving up on " +
                          (job.kind == Job::event ? "the refs event from " : "syncing with ") +
                          job.origin + " after " + std::to_string(job.attempts) +
                          " attempts; anti-entropy keeps comparing digests");
      } else {
        auto delay = std::chrono::seconds(std::min(30, 1 << std::min(job.attempts, 5)));
        job.not_before = Clock::now() + delay;
        jobs_.push_back(std::move(job));
      }
    }
    save_locked();
  }
}

bool Replicator::fetch_from(const std::string& repo, const std::vector<std::string>& need,
                            const std::string& preferred,
                            std::map<std::string, std::string>* advertised, const PeerInfo* only) {
  std::vector<PeerInfo> sources;
  if (only) {
    sources.push_back(*only);
  } else {
    auto peers = services_.peers();
    // The origin first: it surely has the objects. Then anyone else who is up.
    std::stable_partition(peers.begin(), peers.end(),
                          [&](const PeerInfo& p) { return p.id == preferred; });
    for (auto& p : peers) {
      if (p.up) sources.push_back(std::move(p));
    }
  }
  auto have_all = [&] {
    for (const auto& oid : need) {
      if (!mirrors_.has_object(repo, oid)) return false;
    }
    return true;
  };
  for (const auto& p : sources) {
    for (const auto& addr : p.addresses) {
      PinPeer pin(p.id);
      std::string err = mirrors_.fetch(repo, "https://" + addr + "/" + repo + ".git", advertised);
      if (!err.empty()) {
        services_.log(Services::debug, "repo " + repo + ": fetch from " + p.name + " at " + addr +
                                           " failed: " + err);
        continue;
      }
      if (only || have_all()) return true;
      break;  // this member lacks the objects; try the next member
    }
  }
  return !only && have_all();
}

void Replicator::process(Job& job) {
  if (job.kind == Job::sync) return run_sync(job);
  if (auto err = mirrors_.ensure(job.repo); !err.empty()) {
    services_.log(Services::error, "repo " + job.repo + ": " + err);
    ++job.attempts;
    return;
  }
  std::vector<std::string> need;
  for (const auto& c : job.changes) {
    if (c.new_oid != kZeroOid && !mirrors_.has_object(job.repo, c.new_oid)) {
      need.push_back(c.new_oid);
    }
  }
  if (!need.empty() && !fetch_from(job.repo, need, job.origin, nullptr, nullptr)) {
    ++job.attempts;
    services_.log(job.attempts > 3 ? Services::warn : Services::debug,
                  "repo " + job.repo + ": the objects of a push by " + job.origin +
                      " are not reachable yet (" + backoff_note(job.attempts) + ")");
    return;
  }
  const std::string node = key_of(job.origin);
  std::vector<RefChange> done, retry, applied;
  bool changed = false;
  for (const auto& c : job.changes) {
    std::string err;
    Applied a = mirrors_.apply(job.repo, c, node, &err);
    switch (a) {
      case Applied::updated:
        changed = true;
        applied.push_back(c);
        [[fallthrough]];
      case Applied::unchanged:
        done.push_back(c);
        break;
      case Applied::diverged:
        changed = true;
        services_.log(Services::warn, "repo " + job.repo + ": " + c.ref + " diverged from " +
                                          job.origin + "; their tip " + c.new_oid.substr(0, 12) +
                                          " is parked at refs/mesh/diverged/" + node + "/" + c.ref);
        break;
      case Applied::kept:
        services_.log(Services::warn, "repo " + job.repo + ": kept " + c.ref + " (" +
                                          (err.empty() ? "it moved here since the push" : err) +
                                          ")");
        break;
      case Applied::missing:
        retry.push_back(c);
        break;
    }
  }
  remember(job.repo, applied);
  if (changed) {
    mirrors_.fix_head(job.repo);
    refresh_heartbeat();
  }
  ack(job.repo, done);
  if (!retry.empty()) {
    job.changes = std::move(retry);
    ++job.attempts;
  } else {
    job.attempts = 0;
  }
}

void Replicator::run_sync(Job& job) {
  std::optional<PeerInfo> peer;
  for (auto& p : services_.peers()) {
    if (p.id == job.origin) peer = std::move(p);
  }
  if (!peer || !peer->up) return;  // it will be compared again when it is back
  if (auto err = mirrors_.ensure(job.repo); !err.empty()) {
    services_.log(Services::error, "repo " + job.repo + ": " + err);
    return;
  }
  std::map<std::string, std::string> adv;
  if (!fetch_from(job.repo, {}, "", &adv, &*peer)) {
    ++job.attempts;
    return;
  }
  const std::string node = key_of(peer->id);
  bool changed = false;
  std::vector<RefChange> synced;
  for (const auto& [ref, oid] : adv) {
    if (deleted_here(job.repo, ref, oid)) continue;
    std::string err;
    Applied a = mirrors_.reconcile(job.repo, ref, oid, node, &err);
    if (a == Applied::updated) synced.push_back({ref, "", oid});
    if (a == Applied::updated || a == Applied::diverged) changed = true;
    if (a == Applied::diverged) {
      services_.log(Services::warn,
                    "repo " + job.repo + ": " + ref + " differs from " + peer->name +
                        "'s; their tip is parked at refs/mesh/diverged/" + node + "/" + ref);
    } else if (a == Applied::kept && !err.empty()) {
      services_.log(Services::warn, "repo " + job.repo + ": sync of " + ref + ": " + err);
    }
  }
  remember(job.repo, synced);
  if (changed) {
    services_.log(Services::info, "repo " + job.repo + ": caught up with " + peer->name);
    mirrors_.fix_head(job.repo);
    refresh_heartbeat();
  }
  std::lock_guard lock(mu_);
  settled_[{peer->id, job.repo}] = {Mirrors::digest(adv), Mirrors::digest(mirrors_.refs(job.repo))};
  job.attempts = 0;
}

void Replicator::remember(const std::string& repo, const std::vector<RefChange>& changes) {
  std::vector<std::pair<std::string, std::string>> deleted;
  std::vector<std::string> updated;
  for (const auto& c : changes) {
    if (c.new_oid == kZeroOid) {
      deleted.emplace_back(c.ref, c.old_oid);
    } else {
      updated.push_back(c.ref);
    }
  }
  std::string err;
  if (!tombs_.record(repo, deleted, updated, &err)) {
    services_.log(Services::error, "repo " + repo + ": tombstones: " + err);
  }
}

bool Replicator::deleted_here(const std::string& repo, const std::string& ref,
                              const std::string& oid) {
  auto tip = tombs_.find(repo, ref);
  // The deleted tip, or a value it had before (a member that also missed earlier updates).
  return tip && (*tip == oid || mirrors_.contains(repo, *tip, oid));
}

// ---- anti-entropy ----

void Replicator::anti_entropy() {
  // Our digests are refreshed on every change we make; once a minute (12 ticks of 5 s) they are
  // recomputed anyway, so a mirror changed behind our back (e.g. a ref deleted by hand) is
  // noticed and repaired from the members.
  if (++ticks_ % 12 == 0) refresh_heartbeat();
  auto peers = services_.peers();
  std::lock_guard lock(mu_);
  const auto& mine = digests_;
  for (const auto& p : peers) {
    if (!p.up || !p.has_digests) continue;
    for (const auto& [repo, theirs] : p.digests) {
      if (!valid_repo_name(repo)) continue;
      auto it = mine.find(repo);
      const std::string ours = it != mine.end() ? it->second : "";
      const auto key = std::make_pair(p.id, repo);
      if (theirs == ours || theirs.empty()) {
        mismatches_.erase(key);
        continue;
      }
      if (auto s = settled_.find(key);
          s != settled_.end() && s->second == std::pair(theirs, ours)) {
        continue;  // compared already, nothing to take (e.g. a parked divergence)
      }
      // Twice in a row: a refs event in flight explains a single mismatch.
      if (++mismatches_[key] < 2) continue;
      mismatches_.erase(key);
      bool queued = std::any_of(jobs_.begin(), jobs_.end(), [&](const Job& j) {
        return j.kind == Job::sync && j.origin == p.id && j.repo == repo;
      });
      if (!queued) {
        Job job;
        job.kind = Job::sync;
        job.origin = p.id;
        job.repo = repo;
        enqueue_locked(std::move(job));
      }
    }
  }
}

std::size_t Replicator::sync_now(const std::string& repo) {
  auto peers = services_.peers();
  std::vector<std::string> repos;
  if (!repo.empty()) {
    repos.push_back(repo);
  } else {
    repos = mirrors_.list();
    for (const auto& p : peers) {
      for (const auto& [r, d] : p.digests) {
        if (valid_repo_name(r) && std::find(repos.begin(), repos.end(), r) == repos.end()) {
          repos.push_back(r);
        }
      }
    }
  }
  std::size_t n = 0;
  std::lock_guard lock(mu_);
  for (const auto& p : peers) {
    if (!p.up) continue;
    for (const auto& r : repos) {
      settled_.erase({p.id, r});
      Job job;
      job.kind = Job::sync;
      job.origin = p.id;
      job.repo = r;
      enqueue_locked(std::move(job));
      ++n;
    }
  }
  return n;
}

// ---- state ----

void Replicator::refresh_heartbeat() {
  // One at a time: two interleaved refreshes could publish the older digests last.
  std::lock_guard refreshing(refresh_mu_);
  std::map<std::string, std::string> all;
  for (const auto& r : mirrors_.list()) all[r] = Mirrors::digest(mirrors_.refs(r));
  json::object repos;
  bool truncated = false;
  std::size_t size = 32;
  for (const auto& [r, d] : all) {
    size += r.size() + d.size() + 6;
    if (size > kMaxHeartbeat - 64) {
      truncated = true;  // peers then rely on refs events and `mesh sync`
      break;
    }
    repos[r] = d;
  }
  json::object beat{{"repos", std::move(repos)}};
  if (truncated) beat["truncated"] = true;
  services_.set_heartbeat(json::serialize(beat));
  std::lock_guard lock(mu_);
  digests_ = std::move(all);
}

void Replicator::save_locked() {
  json::array out;
  for (const auto& j : jobs_) {
    if (j.kind != Job::event) continue;
    json::array changes;
    for (const auto& c : j.changes) changes.push_back(change_json(c));
    out.push_back(json::object{{"origin", j.origin}, {"repo", j.repo}, {"updates", changes}});
  }
  std::string err;
  // Not fsync'd: it is rewritten on every queue change (a push's latency), and a lost file
  // only leaves its jobs to the next anti-entropy round.
  if (!write_state_file(options_.state_dir / "pending.json", json::serialize(out),
                        /*durable=*/false, &err)) {
    services_.log(Services::error, err);
  }
}

void Replicator::load() {
  fs::path file = options_.state_dir / "pending.json";
  std::string err;
  auto text = read_state_file(file, kMaxPendingFile, &err);
  if (!text) {
    if (!err.empty()) services_.log(Services::error, err + "; its jobs are left to anti-entropy");
    return;
  }
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_array()) {
    services_.log(Services::error,
                  file.string() + " is unreadable; its jobs are left to anti-entropy");
    return;
  }
  std::lock_guard lock(mu_);
  for (const auto& e : v.as_array()) {
    auto* o = e.if_object();
    if (!o) continue;
    auto *origin = str_at(*o, "origin"), *repo = str_at(*o, "repo");
    auto* updates = o->if_contains("updates");
    if (!origin || !repo || !valid_repo_name(*repo) || !updates || !updates->is_array()) continue;
    Job job;
    job.origin = std::string(*origin);
    job.repo = std::string(*repo);
    for (const auto& u : updates->as_array()) {
      if (auto c = parse_change(u)) job.changes.push_back(std::move(*c));
    }
    if (!job.changes.empty()) jobs_.push_back(std::move(job));
  }
  if (!jobs_.empty()) {
    services_.log(Services::info,
                  "resuming " + std::to_string(jobs_.size()) + " pending refs events");
  }
}

// ---- views ----

std::string Replicator::repos_json() {
  std::map<std::string, std::string> names;
  for (const auto& p : services_.peers()) names[key_of(p.id)] = p.name;
  json::array out;
  for (const auto& r : mirrors_.list()) {
    json::object refs;
    for (const auto& [name, oid] : mirrors_.refs(r)) refs[name] = oid;
    json::array divs;
    for (const auto& d : mirrors_.divergences(r)) {
      auto it = names.find(d.node);
      const std::string branch = d.ref.starts_with("refs/heads/") ? d.ref.substr(11) : d.ref;
      divs.push_back(
          json::object{{"ref", d.ref},
                       {"node", it != names.end() ? it->second : d.node},
                       {"node_id", "mesh:" + d.node},
                       {"oid", d.oid},
                       {"parked_as", d.parked_as},
                       {"resolve", "git fetch mesh " + d.parked_as +
                                       " && git merge FETCH_HEAD && git push mesh HEAD:" + branch},
                       {"discard", "git push mesh --delete " + d.parked_as}});
    }
    out.push_back(
        json::object{{"name", r}, {"refs", std::move(refs)}, {"divergences", std::move(divs)}});
  }
  return json::serialize(out);
}

}  // namespace mesh::repl
