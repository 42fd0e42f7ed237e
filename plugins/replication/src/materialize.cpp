// Making a mirror match its registry: fetch what is missing, then, under the repo lock, move
// every ref to the winner of its plan, park the tips that lost, adopt refs changed behind the
// plugin's back, and acknowledge what was applied.
#include <algorithm>
#include <boost/json.hpp>
#include <random>

#include "names.hpp"
#include "parked.hpp"
#include "refs_event.hpp"
#include "replicator.hpp"

namespace mesh::repl {
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {
constexpr std::size_t kFirstWave = 16;
// How long a node outside the first wave waits for an acknowledgement before it fetches anyway.
constexpr auto kFanOutWait = std::chrono::milliseconds(500);
// Fetches a job stopped waiting for that may still be running (each ends within its I/O
// bounds); past this many a job waits for its fetch as before.
constexpr std::size_t kMaxStragglers = 8;
}  // namespace

std::vector<std::string> Replicator::unavailable(const std::string& repo,
                                                 const std::vector<std::string>& missing) {
  std::vector<std::string> out;
  std::lock_guard lock(mu_);
  for (const auto& oid : missing) {
    auto it = missing_since_.find({repo, oid});
    if (it != missing_since_.end() && Clock::now() - it->second >= options_.unavailable_after) {
      out.push_back(oid);
    }
  }
  return out;
}

bool Replicator::fan_out_later(const std::string& oid, std::size_t team_size) const {
  if (team_size <= kFirstWave) return false;
  // FNV-1a of (this node, the tip): a different first wave for every push, the same answer for
  // every job of one push on this node.
  std::uint64_t h = 1469598103934665603ull;
  for (char c : options_.self_id + "/" + oid) {
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  const std::size_t waves = (team_size + kFirstWave - 1) / kFirstWave;
  return h % waves != 0;
}

bool Replicator::fetch_missing(const std::string& repo, const std::vector<std::string>& need,
                               const Job& job, std::map<std::string, std::string>* advertised) {
  auto peers = services_.peers();
  // Who to ask, in order: the member being synced with; whoever acknowledged having a missing
  // value (a relay that has fetched it already; any of them will do, so the order is shuffled
  // and a large team does not all ask the same one); the events' origins; whoever set the
  // missing values; then every member that is up.
  std::vector<std::string> order;
  auto add = [&](const std::string& id) {
    if (!id.empty() && id != options_.self_id &&
        std::find(order.begin(), order.end(), id) == order.end()) {
      order.push_back(id);
    }
  };
  add(job.only);
  {
    std::vector<std::string> holders;
    std::lock_guard lock(ack_mu_);
    for (const auto& oid : need) {
      if (auto it = holders_.find({repo, oid}); it != holders_.end()) {
        holders.insert(holders.end(), it->second.begin(), it->second.end());
      }
    }
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::shuffle(holders.begin(), holders.end(), rng);
    for (const auto& id : holders) add(id);
  }
  for (const auto& p : job.prefer) add(p);
  if (auto reg = registry_of(repo)) {
    for (const auto& [ref, rr] : reg->refs) {
      for (const auto& [value, state] : rr.values) {
        if (state.set && std::find(need.begin(), need.end(), value) != need.end()) {
          add(state.set->origin);
        }
      }
    }
  }
  for (const auto& p : peers) add(p.id);
  auto peer_of = [&](const std::string& id) {
    auto it =
        std::find_if(peers.begin(), peers.end(), [&](const PeerInfo& p) { return p.id == id; });
    return it == peers.end() ? nullptr : &*it;
  };
  // Members linked to this node first: one heard of only through a relay is likely not
  // reachable from here (no route, or a route that drops packets and makes the fetch hang),
  // so it is tried last, and not at all on a job's first attempt, when a relay that is about
  // to have the objects is the better source (its acknowledgement wakes the job).
  std::stable_partition(order.begin(), order.end(), [&](const std::string& id) {
    auto* p = peer_of(id);
    return id == job.only || (p && p->direct);
  });
  auto have_all = [&] {
    for (const auto& oid : need) {
      if (!mirrors_.has_object(repo, oid)) return false;
    }
    return true;
  };
  bool synced = job.only.empty();
  for (const auto& id : order) {
    const PeerInfo* peer = peer_of(id);
    if (!peer || !peer->up) continue;
    if (!peer->direct && id != job.only && job.attempts == 0) continue;
    std::vector<std::string> addresses = peer->addresses;
    {
      std::lock_guard lock(mu_);
      if (auto it = good_address_.find(id); it != good_address_.end()) {
        auto at = std::find(addresses.begin(), addresses.end(), it->second);
        if (at != addresses.end()) std::rotate(addresses.begin(), at, at + 1);
      }
    }
    for (const auto& addr : addresses) {
      const std::string where = id + " " + addr;
      {
        // An address that failed lately waits out its backoff (5 s, doubling to 30 s like the
        // links' dialling), so a route that hangs costs one connect timeout per backoff, not
        // one per job. Syncs with that member (job.only) still try it.
        std::lock_guard lock(mu_);
        auto f = failing_.find(where);
        if (f != failing_.end() && Clock::now() < f->second.first && id != job.only) continue;
      }
      std::map<std::string, std::string> adv;
      std::string err;
      if (!fetch_or_give_up(repo, *peer, addr, need, id == job.only, &adv, &err)) {
        return false;  // another member has the objects now: the job runs again at once
      }
      if (!err.empty()) continue;
      if (id == job.only) {
        synced = true;
        if (advertised) *advertised = std::move(adv);
      }
      break;  // this member answered; whether it had everything is checked below
    }
    if (synced && have_all()) return true;
  }
  return synced && have_all();
}

void Replicator::record_fetch(const std::string& where, const std::string& id,
                              const std::string& addr, bool ok) {
  std::lock_guard lock(mu_);
  if (ok) {
    good_address_[id] = addr;
    failing_.erase(where);
    return;
  }
  if (failing_.size() > 4096) failing_.clear();
  auto& [until, backoff] = failing_[where];
  backoff = std::min<std::chrono::milliseconds>(
      backoff.count() ? backoff * 2 : std::chrono::milliseconds(5000), std::chrono::seconds(30));
  until = Clock::now() + backoff;
}

bool Replicator::held_elsewhere(const std::string& repo, const std::vector<std::string>& need,
                                const std::string& besides) {
  std::set<std::string> common;
  {
    std::lock_guard lock(ack_mu_);
    for (std::size_t i = 0; i < need.size(); ++i) {
      auto it = holders_.find({repo, need[i]});
      if (it == holders_.end()) return false;
      if (i == 0) {
        common = it->second;
      } else {
        std::erase_if(common, [&](const std::string& m) { return !it->second.count(m); });
      }
    }
  }
  common.erase(besides);
  common.erase(options_.self_id);
  if (common.empty()) return false;
  for (const auto& p : services_.peers()) {
    if (p.up && p.direct && common.count(p.id)) return true;
  }
  return false;
}

// A fetch from a member runs on a thread of its own while the job waits for it, so that the
// job can stop waiting when the fetch hangs (a route that drops packets: the connect bound is
// 5 s, a read's 30 s) and a member it can reach acknowledges the tips meanwhile.
bool Replicator::fetch_or_give_up(const std::string& repo, const PeerInfo& peer,
                                  const std::string& addr, const std::vector<std::string>& need,
                                  bool sync, std::map<std::string, std::string>* advertised,
                                  std::string* err) {
  const std::string where = peer.id + " " + addr;
  auto fl = std::make_shared<Inflight>();
  {
    std::lock_guard lock(mu_);
    // Join the abandoned fetches that have ended since.
    for (auto it = stragglers_.begin(); it != stragglers_.end();) {
      bool done;
      {
        std::lock_guard l(it->second->mu);
        done = it->second->done;
      }
      if (done) {
        it->first.join();
        it = stragglers_.erase(it);
      } else {
        ++it;
      }
    }
    inflight_[repo] = fl;
  }
  const auto started = Clock::now();
  std::thread fetcher([this, fl, repo, where, id = peer.id, name = peer.name, addr] {
    std::map<std::string, std::string> adv;
    std::string e =
        mirrors_.fetch(repo, "https://" + addr + "/" + repo + ".git", id, &adv, &fl->cancel);
    if (!e.empty()) {
      services_.log(Services::debug,
                    "repo " + repo + ": fetch from " + name + " at " + addr + " failed: " + e);
    }
    // Abandoned or not, the outcome says how good this address is.
    record_fetch(where, id, addr, e.empty());
    {
      std::lock_guard lock(fl->mu);
      fl->err = std::move(e);
      fl->advertised = std::move(adv);
      fl->done = true;
    }
    fl->cv.notify_all();
  });
  bool give_up = false;
  {
    std::unique_lock lock(fl->mu);
    while (!fl->done) {
      fl->cv.wait(lock, [&] { return fl->done || fl->woken; });
      if (fl->done) break;
      fl->woken = false;
      if (stopping_) {
        give_up = true;
        break;
      }
      // A sync is with this member whatever others have; a bounded number of fetches may be
      // left to end on their own.
      if (sync) continue;
      lock.unlock();
      bool elsewhere = held_elsewhere(repo, need, peer.id);
      bool room;
      {
        std::lock_guard l(mu_);
        room = stragglers_.size() < kMaxStragglers;
      }
      lock.lock();
      if (elsewhere && room && !fl->done) {
        give_up = true;
        break;
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    if (auto it = inflight_.find(repo); it != inflight_.end() && it->second == fl) {
      inflight_.erase(it);
    }
    if (give_up) {
      fl->cancel = true;
      stragglers_.emplace_back(std::move(fetcher), fl);
    }
  }
  if (give_up) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    services_.log(Services::info, "repo " + repo + ": gave up waiting for the fetch from " +
                                      peer.name + " at " + addr + " after " + std::to_string(ms) +
                                      " ms: a member this node is linked to has the objects now");
    return false;
  }
  fetcher.join();
  *err = std::move(fl->err);
  if (advertised) *advertised = std::move(fl->advertised);
  return true;
}

void Replicator::process(Job& job) {
  const std::string& repo = job.repo;
  std::optional<RepoRegistry> reg = registry_of(repo);
  if (!reg) return;  // nothing recorded (a sync of a repo this node never heard of)
  if (reg->is_removed()) {
    auto guard = locks_->lock(repo);
    if (mirrors_.exists(repo)) {
      if (auto err = mirrors_.trash(repo, options_.now_ms()); !err.empty()) {
        services_.log(Services::error, "repo " + repo + ": " + err);
        ++job.attempts;
        return;
      }
      services_.log(Services::info, "repo " + repo +
                                        " removed from the mesh; kept in the trash "
                                        "for 30 days (mesh restore-repo " +
                                        repo + ")");
      refresh_heartbeat();
    }
    job.acks.clear();
    return;
  }
  // A registry that records nothing (an event that changed nothing) makes no mirror.
  if (reg->refs.empty() && !mirrors_.exists(repo) && !mirrors_.in_trash(repo)) return;
  if (!mirrors_.exists(repo)) {
    auto guard = locks_->lock(repo);
    if (!mirrors_.exists(repo)) {
      std::string err;
      if (mirrors_.in_trash(repo)) err = mirrors_.restore_from_trash(repo);
      if (err.empty() && !mirrors_.exists(repo)) err = mirrors_.ensure(repo);
      if (!err.empty()) {
        services_.log(Services::error, "repo " + repo + ": " + err);
        ++job.attempts;
        return;
      }
    }
  }

  // Objects first, outside the lock (a fetch may take long; it only adds objects).
  std::vector<std::string> need;
  for (const auto& [ref, plan] : plans(repo, *reg)) {
    for (const auto& oid : plan.missing) {
      if (std::find(need.begin(), need.end(), oid) == need.end()) need.push_back(oid);
    }
  }
  std::map<std::string, std::string> advertised;
  bool fetched = true;
  // Fetches for a member's push count against its hourly byte budget ([plugins.replication]
  // max_fetch_bytes_per_hour); over it the job waits like a failed fetch.
  const std::string charged = job.prefer.empty() ? std::string() : job.prefer.front();
  const bool metered = !charged.empty() && charged != options_.self_id;
  if (metered && !need.empty() && !quota_.may_fetch(charged, options_.now_ms())) {
    ++job.attempts;
    return;
  }
  // A team of 50 must not all ask the origin at once: most nodes wait a moment for the first
  // few to have the tip, and their acknowledgements wake them to fetch from those.
  if (!need.empty() && job.only.empty() && !job.prefer.empty() && job.attempts == 0 &&
      !job.deferred) {
    bool known_elsewhere = false;
    {
      std::lock_guard lock(ack_mu_);
      for (const auto& oid : need) known_elsewhere = known_elsewhere || holders_.count({repo, oid});
    }
    if (!known_elsewhere && fan_out_later(need.front(), services_.peers().size() + 1)) {
      job.deferred = true;
      job.defer = kFanOutWait;
      return;
    }
  }
  if (!need.empty() || !job.only.empty()) {
    const std::uint64_t before = metered ? objects_bytes(mirrors_.path_of(repo)) : 0;
    fetched = fetch_missing(repo, need, job, &advertised);
    if (metered) {
      const std::uint64_t after = objects_bytes(mirrors_.path_of(repo));
      quota_.fetched(charged, after > before ? after - before : 0, options_.now_ms());
    }
    std::vector<std::string> missing;
    {
      std::lock_guard lock(mu_);
      for (const auto& oid : need) {
        if (mirrors_.has_object(repo, oid)) {
          missing_since_.erase({repo, oid});
        } else {
          missing_since_.try_emplace({repo, oid}, Clock::now());
          missing.push_back(oid);
        }
      }
    }
    // No member we could reach had them: the members that set them may be able to reach us.
    if (!missing.empty()) ask_for_objects(repo, missing);
  }

  std::vector<PushRecord> adopted;
  bool complete = false;
  {
    auto guard = locks_->lock(repo);
    complete = apply_plans(repo, &adopted);
  }
  for (auto& p : adopted) publish_push(p);
  send_acks(repo, job);
  mirrors_.fix_head(repo);
  refresh_heartbeat();
  if (!job.only.empty()) {
    std::lock_guard lock(mu_);
    settled_[{job.only, repo}] = {Mirrors::digest(advertised),
                                  Mirrors::digest(mirrors_.all_refs(repo))};
  }
  if (!complete || !fetched) {
    ++job.attempts;
    services_.log(job.attempts > 3 ? Services::warn : Services::debug,
                  "repo " + repo + ": objects of " + std::to_string(need.size()) +
                      " tips are not here yet (attempt " + std::to_string(job.attempts) + ")");
  } else {
    job.attempts = 0;
  }
}

bool Replicator::apply_plans(const std::string& repo, std::vector<PushRecord>* adopted) {
  std::string err;
  auto current = mirrors_.all_refs(repo, &err);
  if (!err.empty()) {
    services_.log(Services::error, "repo " + repo + ": " + err);
    return false;
  }
  std::optional<RepoRegistry> reg = registry_of(repo);
  if (!reg) return true;

  // A head or tag with a value the registry never heard of was changed behind the plugin's
  // back (a push straight into the bare repository, say): that is a local change like a push.
  std::vector<RefChange> drift;
  for (const auto& [name, oid] : current) {
    if (!replicated_ref(name)) continue;
    auto it = reg->refs.find(name);
    if (it != reg->refs.end() && it->second.values.count(oid)) continue;
    std::string was = kZeroOid;
    if (it != reg->refs.end()) {
      Mirrors::Graph graph(mirrors_, repo);
      auto p = plan_ref(
          it->second, [&](const std::string& o) { return graph.has(o); },
          [&](const std::string& a, const std::string& b) { return graph.contains(a, b); });
      if (p.winner) {
        was = p.winner->value;
      }
    }
    drift.push_back({name, was, oid});
  }
  if (!drift.empty()) {
    PushRecord p = record_local(repo, drift, std::nullopt);
    std::string refs;
    for (const auto& u : p.updates) refs += (refs.empty() ? "" : ", ") + u.ref;
    services_.log(Services::info,
                  "repo " + repo + ": " + refs + " changed outside mesh; replicating it");
    adopted->push_back(std::move(p));
    reg = registry_of(repo);
  }

  bool complete = true;
  const std::string why = "mesh: replicated";
  for (const auto& [ref, plan] : plans(repo, *reg)) {
    if (!plan.ready()) {
      complete = false;
      continue;
    }
    const std::string want = plan.winner ? plan.winner->value : kZeroOid;
    auto cur_it = current.find(ref);
    const std::string have = cur_it != current.end() ? cur_it->second : kZeroOid;
    if (have != want) {
      bool raced = false;
      std::string e = mirrors_.set_ref(repo, ref, have, want, why, &raced);
      if (!e.empty()) {
        services_.log(raced ? Services::debug : Services::error,
                      "repo " + repo + ": " + ref + ": " + e);
        complete = false;
        continue;
      }
    }
    // Parked tips of this ref: exactly the plan's.
    std::map<std::string, std::string> want_parked;
    for (const auto& c : plan.parked) want_parked[parked_name(ref, c.value)] = c.value;
    for (const auto& [name, oid] : current) {
      auto pn = parse_parked_name(name);
      if (!pn || pn->deletion || pn->ref != ref || want_parked.count(name)) continue;
      bool raced = false;
      mirrors_.set_ref(repo, name, oid, kZeroOid, "mesh: resolved", &raced);
    }
    for (const auto& c : plan.parked) {
      const std::string name = parked_name(ref, c.value);
      const std::string& oid = c.value;
      auto it = current.find(name);
      if (it != current.end() && it->second == oid) continue;
      services_.log(Services::warn,
                    "repo " + repo + ": " + ref + " diverged: " + name_of(c.key.origin) + "'s " +
                        oid.substr(0, 12) + " lost to " + name_of(plan.winner->key.origin) + "'s " +
                        want.substr(0, 12) + " and is parked as " + name);
      bool raced = false;
      std::string e = mirrors_.set_ref(repo, name, it != current.end() ? it->second : kZeroOid, oid,
                                       "mesh: parked (lost to " + want.substr(0, 12) + ")", &raced);
      if (!e.empty()) {
        services_.log(Services::error, "repo " + repo + ": parking " + name + ": " + e);
        complete = false;
      }
    }
  }
  // Parked tips of refs the registry no longer has, and the older version's parks.
  for (const auto& [name, oid] : current) {
    auto pn = parse_parked_name(name);
    bool stale = (pn && !pn->deletion && !reg->refs.count(pn->ref)) || legacy_parked_ref(name);
    if (!stale) continue;
    bool raced = false;
    mirrors_.set_ref(repo, name, oid, kZeroOid, "mesh: resolved", &raced);
  }
  return complete;
}

void Replicator::send_acks(const std::string& repo, Job& job) {
  if (job.acks.empty()) return;
  std::optional<RepoRegistry> reg = registry_of(repo);
  if (!reg) return;
  auto all = plans(repo, *reg);
  // origin -> (has, parked)
  std::map<std::string, std::pair<json::object, json::object>> out;
  std::vector<std::pair<std::string, RegistryUpdate>> later;
  for (auto& [origin, u] : job.acks) {
    auto it = all.find(u.ref);
    if (it == all.end() || !it->second.ready()) {
      later.emplace_back(origin, u);
      continue;
    }
    const RefPlan& plan = it->second;
    bool parked = std::any_of(plan.parked.begin(), plan.parked.end(),
                              [&](const Contender& c) { return c.value == u.new_oid; });
    auto& [has, lost] = out[origin];
    (parked ? lost : has)[u.ref] = u.new_oid;
  }
  job.acks = std::move(later);
  for (auto& [origin, parts] : out) {
    json::object ack{{"repo", repo}, {"refs", std::move(parts.first)}, {"to", origin}};
    if (!parts.second.empty()) ack["parked"] = std::move(parts.second);
    std::string err;
    services_.publish(kAckTopic, json::serialize(ack), &err);
  }
}

}  // namespace mesh::repl
