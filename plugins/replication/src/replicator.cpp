#include "replicator.hpp"

#include <boost/json.hpp>
#include <random>

#include "names.hpp"
#include "parked.hpp"
#include "refs_event.hpp"

namespace mesh::repl {
namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Clocks are Lamport clocks: they only grow by one per push, so anything near 2^62 is a
// member's bug, refused so that the counter can never wrap.
constexpr std::uint64_t kMaxClock = std::uint64_t{1} << 62;

std::int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Replicator::Replicator(Mirrors& mirrors, Services& services, std::shared_ptr<RepoLocks> locks,
                       ReplicatorOptions options)
    : mirrors_(mirrors),
      services_(services),
      locks_(locks ? std::move(locks) : std::make_shared<RepoLocks>()),
      options_(std::move(options)),
      store_(options_.state_dir / "registry"),
      quota_(options_.quota, [this](const std::string& m) { services_.log(Services::warn, m); }) {
  if (!options_.now_ms) options_.now_ms = system_ms;
}

Replicator::~Replicator() {
  stop();
}

std::string Replicator::key_of(const std::string& id) {
  return id.starts_with("mesh:") ? id.substr(5) : id;
}

std::string Replicator::name_of(const std::string& id) {
  if (id == options_.self_id) return options_.self_name.empty() ? "this node" : options_.self_name;
  for (const auto& p : services_.peers()) {
    if (p.id == id) return p.name;
  }
  return key_of(id).substr(0, 12);
}

void Replicator::start() {
  std::string errors;
  auto loaded = store_.load_all(&errors);
  if (!errors.empty()) {
    services_.log(Services::error,
                  "replication registries unreadable (recorded again from the "
                  "mirrors): " +
                      errors);
  }
  {
    std::lock_guard lock(reg_mu_);
    regs_ = std::move(loaded);
    for (const auto& [repo, reg] : regs_) clock_ = std::max(clock_, reg.max_clock());
  }
  // Whatever a kill -9 left behind (temporary packs, quarantines, ref locks): nothing runs in
  // the mirrors yet, so all of it is garbage.
  for (const auto& repo : mirrors_.list()) {
    auto removed = mirrors_.clean_leftovers(repo);
    if (!removed.empty()) {
      std::string list;
      for (const auto& r : removed) list += (list.empty() ? "" : ", ") + r;
      services_.log(Services::info, "repo " + repo +
                                        ": removed what an interrupted git or fetch "
                                        "left: " +
                                        list);
    }
    bool has_registry;
    {
      std::lock_guard lock(reg_mu_);
      has_registry = regs_.count(repo) > 0;
    }
    if (!has_registry) seed(repo);
  }
  retry_outbox();
  refresh_heartbeat();
  for (std::size_t i = 0; i < std::max<std::size_t>(1, options_.workers); ++i) {
    workers_.emplace_back([this] { run(); });
  }
  offer_thread_ = std::thread([this] { run_offers(); });
  std::vector<std::string> repos;
  {
    std::lock_guard lock(reg_mu_);
    for (const auto& [repo, reg] : regs_) repos.push_back(repo);
  }
  for (const auto& repo : repos) enqueue(make_job(repo));
}

void Replicator::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    for (auto& [repo, fl] : inflight_) {  // jobs waiting for a fetch stop waiting
      {
        std::lock_guard l(fl->mu);
        fl->woken = true;
      }
      fl->cv.notify_all();
    }
  }
  cv_.notify_all();
  ack_cv_.notify_all();
  {
    std::lock_guard lock(offer_mu_);  // the offer thread checks stopping_ under it
  }
  offer_cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
  // Fetches given up on end within their I/O bounds (and at their next callback, cancelled).
  std::list<std::pair<std::thread, std::shared_ptr<Inflight>>> stragglers;
  {
    std::lock_guard lock(mu_);
    stragglers.swap(stragglers_);
  }
  for (auto& [thread, fl] : stragglers) thread.join();
  if (offer_thread_.joinable()) offer_thread_.join();
}

std::size_t Replicator::pending() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

// ---- the registry ----

std::optional<RepoRegistry> Replicator::registry_of(const std::string& repo) {
  std::lock_guard lock(reg_mu_);
  auto it = regs_.find(repo);
  if (it == regs_.end()) return std::nullopt;
  return it->second;
}

bool Replicator::save_locked(const std::string& repo, std::string* err) {
  auto it = regs_.find(repo);
  if (it == regs_.end()) return true;
  it->second.expire(
      options_.now_ms(),
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.dead_life).count(),
      options_.max_dead_per_ref);
  ++registry_changes_;
  {
    std::lock_guard wake(ack_mu_);  // lock order: reg_mu_, then ack_mu_
  }
  ack_cv_.notify_all();
  return store_.save(repo, it->second, err);
}

Key Replicator::next_key_locked() {
  return Key{++clock_, options_.self_id};
}

std::map<std::string, RefPlan> Replicator::plans(const std::string& repo, const RepoRegistry& reg) {
  std::map<std::string, RefPlan> out;
  // One open repository for every question of every ref (a plan asks a few per value).
  Mirrors::Graph graph(mirrors_, repo);
  HasObject has = [&graph](const std::string& oid) { return graph.has(oid); };
  Contains contains = [&graph](const std::string& a, const std::string& b) {
    return graph.contains(a, b);
  };
  for (const auto& [ref, rr] : reg.refs) {
    RefPlan p = plan_ref(rr, has, contains);
    if (!p.ready()) p = plan_ref(rr, has, contains, unavailable(repo, p.missing));
    out.emplace(ref, std::move(p));
  }
  return out;
}

PushRecord Replicator::record_local(const std::string& repo, const std::vector<RefChange>& changes,
                                    std::optional<std::uint64_t> clock) {
  PushRecord p;
  p.repo = repo;
  std::vector<RefChange> replicable;
  for (const auto& c : changes) {
    if (replicated_ref(c.ref)) {
      replicable.push_back(c);
    } else if (!c.ref.starts_with("refs/mesh/")) {
      p.local_only.push_back(c.ref);
    }
  }
  if (replicable.empty()) return p;
  // What each update replaces is decided on the registry as it is now, outside the lock (the
  // commit graph is libgit2 work); the caller holds the repo lock, so no other local change
  // of this repo interleaves, and events arriving meanwhile only add values (set logic).
  std::optional<RepoRegistry> reg = registry_of(repo);
  Mirrors::Graph graph(mirrors_, repo);
  HasObject has = [&graph](const std::string& oid) { return graph.has(oid); };
  Contains contains = [&graph](const std::string& a, const std::string& b) {
    return graph.contains(a, b);
  };
  bool forced = false;
  for (const auto& c : replicable) {
    RegistryUpdate u{c.ref, c.old_oid, c.new_oid, {}};
    if (reg) {
      if (auto it = reg->refs.find(c.ref); it != reg->refs.end()) {
        u.supersedes = superseded_by_push(it->second, c.old_oid, c.new_oid, has, contains);
      }
    }
    forced = forced || (c.old_oid != kZeroOid && c.new_oid != kZeroOid &&
                        !graph.contains(c.new_oid, c.old_oid));
    p.updates.push_back(std::move(u));
  }
  std::string err;
  {
    std::lock_guard lock(reg_mu_);
    p.key = clock ? Key{*clock, options_.self_id} : next_key_locked();
    RepoRegistry& r = regs_[repo];
    const std::int64_t now = options_.now_ms();
    for (const auto& u : p.updates) r.apply(u, p.key, now);
    if (!save_locked(repo, &err)) {
      services_.log(Services::error, "repo " + repo + ": cannot save the registry: " + err);
    }
  }
  RefsEvent ev{RefsEvent::Op::updates, repo, p.key.clock, p.updates, forced};
  p.payloads = encode_refs_event(ev);
  return p;
}

PushRecord Replicator::record_push(const std::string& repo, const std::vector<RefChange>& changes) {
  PushRecord p = record_local(repo, changes, std::nullopt);
  for (const auto& ref : p.local_only) {
    services_.log(Services::warn, "repo " + repo + ": not replicating " + ref +
                                      ": only refs/heads/* and refs/tags/* with safe names "
                                      "(no component starting with '-' or '.') replicate");
  }
  if (!p.updates.empty()) {
    std::lock_guard lock(ack_mu_);
    if (acks_.size() > 10'000) acks_.clear();  // nobody waited for those
    for (const auto& u : p.updates) acks_[{repo, u.ref, u.new_oid}];
  }
  mirrors_.fix_head(repo);
  return p;
}

void Replicator::publish_push(const PushRecord& push) {
  publish_payloads(push.repo, push.payloads);
  if (!push.updates.empty()) enqueue(make_job(push.repo));
  refresh_heartbeat();
}

void Replicator::publish_payloads(const std::string& repo,
                                  const std::vector<std::string>& payloads) {
  for (const auto& payload : payloads) {
    std::string err;
    if (!services_.publish(kRefsTopic, payload, &err)) {
      services_.log(Services::error, "repo " + repo + ": cannot publish the refs event (" + err +
                                         "); retrying in the background");
      std::lock_guard lock(mu_);
      if (outbox_.size() < 10'000) outbox_.emplace_back(repo, payload);
    }
  }
}

void Replicator::retry_outbox() {
  std::vector<std::pair<std::string, std::string>> out;
  {
    std::lock_guard lock(mu_);
    out.swap(outbox_);
  }
  for (auto& [repo, payload] : out) publish_payloads(repo, {payload});
}

// Mirrors made by an older version or by hand have no registry: their refs enter it as
// they are, under clock 0 (below every push's), and the older version's parked tips with them,
// so that they compete like any other and lose to anything pushed since. Published, so that
// every member records the same.
void Replicator::seed(const std::string& repo) {
  auto guard = locks_->lock(repo);
  std::string err;
  auto all = mirrors_.all_refs(repo, &err);
  if (!err.empty()) {
    services_.log(Services::warn, "repo " + repo + ": " + err);
    return;
  }
  std::vector<RefChange> changes;
  std::vector<std::pair<std::string, std::string>> legacy;
  for (const auto& [name, oid] : all) {
    if (replicated_ref(name)) {
      changes.push_back({name, kZeroOid, oid});
    } else if (auto ref = legacy_parked_ref(name)) {
      changes.push_back({*ref, kZeroOid, oid});
      legacy.emplace_back(name, oid);
    }
  }
  PushRecord p = record_local(repo, changes, 0);
  if (p.updates.empty()) {
    std::lock_guard lock(reg_mu_);
    regs_[repo];  // an empty mirror: known from now on
    save_locked(repo, &err);
  }
  for (const auto& [name, oid] : legacy) {
    bool raced = false;
    mirrors_.set_ref(repo, name, oid, kZeroOid, "mesh: parked tips have a new name", &raced);
  }
  guard.release();
  services_.log(Services::info, "repo " + repo + ": recorded its " +
                                    std::to_string(p.updates.size()) + " refs in the registry");
  publish_payloads(repo, p.payloads);
}

std::string Replicator::refusal(const std::string& repo) {
  std::lock_guard lock(reg_mu_);
  auto it = regs_.find(repo);
  if (it == regs_.end() || !it->second.is_removed()) return "";
  return "repo " + repo + " was removed from the mesh; bring it back with: mesh restore-repo " +
         repo;
}

bool Replicator::known(const std::string& repo) {
  if (!valid_repo_name(repo)) return false;
  {
    std::lock_guard lock(reg_mu_);
    auto it = regs_.find(repo);
    if (it != regs_.end() && it->second.is_removed()) return false;
  }
  return mirrors_.exists(repo);
}

std::vector<std::string> Replicator::removed_repos() {
  std::vector<std::string> out;
  std::lock_guard lock(reg_mu_);
  for (const auto& [repo, reg] : regs_) {
    if (reg.is_removed()) out.push_back(repo);
  }
  return out;
}

// ---- in: events ----

bool Replicator::on_refs(const std::string& origin, std::string_view payload) {
  RefsEvent ev;
  std::string why;
  switch (decode_refs_event(payload, &ev, &why)) {
    case DecodeStatus::legacy:
      services_.log(Services::debug, "ignoring a refs event from " + origin + ": " + why);
      return true;
    case DecodeStatus::invalid:
      // Malformed input never gets better by retrying.
      services_.log(Services::warn, "dropping a refs event from " + origin + ": " + why);
      return true;
    case DecodeStatus::ok:
      break;
  }
  if (ev.clock >= kMaxClock) {
    services_.log(Services::warn, "dropping a refs event from " + origin + ": clock out of range");
    return true;
  }
  const Key key{ev.clock, origin};
  std::string err;
  {
    std::lock_guard lock(reg_mu_);
    const std::int64_t now = options_.now_ms();
    // A repo this node never had, named by a member: counted against that member's hourly
    // budget; over it, the event waits (delivered again about a second later).
    if (origin != options_.self_id && !regs_.count(ev.repo) && !mirrors_.exists(ev.repo) &&
        !mirrors_.in_trash(ev.repo) && !quota_.new_repo(origin, now)) {
      return false;
    }
    clock_ = std::max(clock_, ev.clock);
    RepoRegistry& reg = regs_[ev.repo];
    bool changed = false;
    if (ev.op == RefsEvent::Op::updates) {
      for (const auto& u : ev.updates) changed = reg.apply(u, key, now) || changed;
    } else {
      changed = reg.apply_removal(ev.op == RefsEvent::Op::remove, key, now);
    }
    if (changed && !save_locked(ev.repo, &err)) {
      services_.log(Services::error, "repo " + ev.repo + ": cannot save the registry (" + err +
                                         "); the event comes again later");
      return false;
    }
  }
  if (origin == options_.self_id) return true;  // recorded when it was pushed here
  Job job = make_job(ev.repo, "", {origin});
  for (const auto& u : ev.updates) job.acks.emplace_back(origin, u);
  enqueue(std::move(job));
  return true;
}

// ---- the workers ----

void Replicator::enqueue(Job job) {
  std::lock_guard lock(mu_);
  enqueue_locked(std::move(job));
}

void Replicator::enqueue_locked(Job job) {
  for (auto& j : jobs_) {
    if (j.repo != job.repo || j.only != job.only) continue;
    // Coalesce: one queued job per repo (and sync peer) does all of it, and runs now.
    for (auto& p : job.prefer) {
      if (std::find(j.prefer.begin(), j.prefer.end(), p) == j.prefer.end()) j.prefer.push_back(p);
    }
    for (auto& a : job.acks) {
      if (j.acks.size() < 10'000) j.acks.push_back(std::move(a));
    }
    j.not_before = {};
    j.attempts = std::min(j.attempts, 1);
    cv_.notify_all();
    return;
  }
  if (jobs_.size() >= 10'000) {
    services_.log(Services::warn,
                  "replication queue full; repo " + job.repo + " is left to anti-entropy");
    return;
  }
  jobs_.push_back(std::move(job));
  cv_.notify_all();
}

void Replicator::wake(const std::string& repo) {
  std::lock_guard lock(mu_);
  bool queued = false;
  thread_local std::minstd_rand rng{std::random_device{}()};
  for (auto& j : jobs_) {
    if (j.repo != repo) continue;
    // A job waiting for the first wave: a little later than the first acknowledgement, so
    // that the members woken together find several sources, not one.
    j.not_before = j.deferred && j.attempts == 0
                       ? Clock::now() + std::chrono::milliseconds(rng() % 100)
                       : Clock::time_point{};
    queued = true;
  }
  if (auto it = inflight_.find(repo); it != inflight_.end()) {
    {
      std::lock_guard l(it->second->mu);
      it->second->woken = true;
    }
    it->second->cv.notify_all();
  }
  if (busy_.contains(repo)) {
    woken_.insert(repo);
  } else if (!queued) {
    return;
  }
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
    try {
      process(job);
    } catch (const std::exception& e) {
      services_.log(Services::error, "repo " + job.repo + ": " + e.what());
      ++job.attempts;
    }
    lock.lock();
    busy_.erase(job.repo);
    cv_.notify_all();
    const bool woken = woken_.erase(job.repo) > 0;
    if (job.defer.count() > 0 && !stopping_) {
      // Let the first wave fetch; an acknowledgement (wake) or the deadline runs it again.
      job.not_before = woken ? Clock::time_point{} : Clock::now() + job.defer;
      job.defer = {};
      bool newer = std::any_of(jobs_.begin(), jobs_.end(), [&](const Job& j) {
        return j.repo == job.repo && j.only == job.only;
      });
      if (newer) {
        enqueue_locked(std::move(job));
      } else {
        jobs_.push_back(std::move(job));
      }
      continue;
    }
    if (job.attempts > 0 && !stopping_) {
      // process() asks for another try by raising attempts.
      if (job.attempts > options_.max_attempts) {
        services_.log(Services::error, "repo " + job.repo + ": giving up after " +
                                           std::to_string(job.attempts) +
                                           " attempts; anti-entropy and the next event try again");
      } else {
        auto delay = std::chrono::seconds(std::min(30, 1 << std::min(job.attempts - 1, 5)));
        bool newer = std::any_of(jobs_.begin(), jobs_.end(), [&](const Job& j) {
          return j.repo == job.repo && j.only == job.only;
        });
        if (newer) {
          enqueue_locked(std::move(job));  // merged into the newer one, which runs now
        } else {
          // Woken while it ran (a member acknowledged a tip it lacks): again at once.
          job.not_before = woken ? Clock::time_point{} : Clock::now() + delay;
          jobs_.push_back(std::move(job));
        }
      }
    }
  }
}

}  // namespace mesh::repl
