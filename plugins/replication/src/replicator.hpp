// Propagation: a push is recorded in the repo's registry and published as a refs event; every
// node applies every refs event to its registry (pure set logic, any order) and then makes its
// mirror match the registry (materialize: fetch the objects, move the refs, park the tips that
// lost); acknowledgements, departures and the push's answer; anti-entropy from the digests in
// heartbeats; remove-repo/restore-repo/drop. SDK-free: the plugin glue (plugin.cpp) supplies
// the daemon's services through `Services`. libgit2 is used only on threads the plugin owns.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "member_quota.hpp"
#include "mirror.hpp"
#include "object_offers.hpp"
#include "registry.hpp"
#include "registry_store.hpp"
#include "repo_locks.hpp"

namespace mesh::repl {

struct PeerInfo {
  std::string id;  // "mesh:<key>"
  std::string name;
  bool up = false;
  bool direct = false;                         // linked to this node (reach "direct")
  std::vector<std::string> addresses;          // "host:port"
  std::map<std::string, std::string> digests;  // repo -> digest, from its last heartbeat
  bool has_digests = false;                    // its heartbeat carried replication data
};

class Services {
 public:
  virtual ~Services() = default;
  enum Level { debug, info, warn, error };
  virtual void log(Level level, const std::string& message) = 0;
  virtual std::vector<PeerInfo> peers() = 0;
  // Stored topics replicate to every member; "*.live" topics reach live links only.
  virtual bool publish(const std::string& topic, const std::string& payload, std::string* err) = 0;
  virtual void set_heartbeat(const std::string& json) = 0;
  // POSTs `size` bytes of `file` to `path` on member `peer_id` over a connection this node
  // opens (the host dials the member's addresses, the last that worked first). "" once the
  // member answered 2xx, else why not.
  virtual std::string post_file(const std::string& peer_id, const std::string& path,
                                const std::filesystem::path& file, std::uint64_t size) = 0;
};

// Topics. "refs" events are stored (every member applies them, also after being offline);
// acknowledgements are live-only.
inline constexpr const char* kRefsTopic = "refs";
inline constexpr const char* kAckTopic = "refs-ack.live";

// One ref a push changed, as git reported it (40 zeros: absent).
struct RefChange {
  std::string ref, old_oid, new_oid;
};

struct ReplicatorOptions {
  std::filesystem::path state_dir;  // registry/ lives here
  std::string self_id;              // "mesh:<key>"
  std::string self_name;
  std::size_t workers = 4;  // jobs of different repos run in parallel
  int max_attempts = 30;    // per job, 1 s apart at first, then up to 30 s
  // A tip whose objects no member could supply for this long stops holding its ref back on
  // nodes that lack it (it competes again as soon as they get it).
  std::chrono::milliseconds unavailable_after{std::chrono::minutes(10)};
  std::chrono::hours dead_life{24 * 30};  // how long replaced values are remembered
  std::size_t max_dead_per_ref = 1000;
  std::chrono::hours trash_life{24 * 30};  // removed repos stay recoverable this long
  std::function<std::int64_t()> now_ms;    // wall clock; injectable for tests
  QuotaLimits quota;                       // what one member may make this node do per hour
  GitEnv git;                              // for the packs of object offers
  std::uint64_t max_offer_bytes = std::uint64_t{2} << 30;  // a pack sent or taken, at most
};

// What an objects upload (object_offers.hpp) got: an HTTP status and a line of text.
struct UploadAnswer {
  unsigned status = 200;
  std::string text;
};

// A push this node received, as recorded in the registry.
struct PushRecord {
  std::string repo;
  Key key;
  std::vector<RegistryUpdate> updates;  // replicated refs only
  std::vector<std::string> local_only;  // refs that stay on this node (unsafe names)
  std::vector<std::string> payloads;    // its refs events
};

class Replicator {
 public:
  Replicator(Mirrors& mirrors, Services& services, std::shared_ptr<RepoLocks> locks,
             ReplicatorOptions options);
  ~Replicator();
  // Loads the registries, records mirrors that have none (an older version's, or made by
  // hand) as they are, cleans what killed processes left, starts the workers.
  void start();
  void stop();

  // ---- pushes (git request threads) ----
  // With the repo lock held, right after git changed refs: the push enters the registry.
  PushRecord record_push(const std::string& repo, const std::vector<RefChange>& changes);
  // After the lock is released: the refs events go out (retried later if the feed refuses).
  void publish_push(const PushRecord& push);
  // Waits up to `wait` for the members that are up, and returns the lines the pusher sees:
  // "replicated to k/N nodes", who does not have it yet, or that a concurrent push overtook
  // it, with the commands (for `url`) that resolve that.
  std::string wait_replicated(const PushRecord& push, std::chrono::milliseconds wait,
                              const std::string& url);
  // Unresolved divergences of `repo` as lines for a fetch's or push's sideband ("" if none).
  std::string notice(const std::string& repo, const std::string& url);
  // "" if `repo` may be served and pushed to, else why not (it was removed from the mesh).
  std::string refusal(const std::string& repo);

  // ---- events (plugin executor: quick, no libgit2) ----
  // False asks the bus to deliver it again later (the registry could not be saved).
  bool on_refs(const std::string& origin, std::string_view payload);
  void on_ack(const std::string& origin, std::string_view payload);
  // A member's want (object_offers.hpp): queued for the offer thread if it asks this node.
  void on_want(const std::string& origin, std::string_view payload);

  // ---- objects sent by a member over its own connection (request threads) ----
  // `length` bytes of a pack from `sender` for `repo`, read through `read`; verified and added
  // to the mirror, and the repo's job runs again at once.
  UploadAnswer accept_objects(const std::string& sender, const std::string& repo,
                              std::uint64_t length,
                              const std::function<long(char*, std::size_t)>& read);

  // ---- anti-entropy (own threads) ----
  // Compares the digests in peers' heartbeats with ours; a mismatch seen twice in a row queues
  // a sync with that peer. Called from a timer.
  void anti_entropy();
  // Queues a sync of `repo` (every repo if empty) with every up member now. Returns how many.
  std::size_t sync_now(const std::string& repo);
  // Recomputes the digests and hands them to the heartbeat.
  void refresh_heartbeat();

  // ---- the repo commands (own threads); false with *err ----
  bool remove_repo(const std::string& repo, std::string* err);
  bool restore_repo(const std::string& repo, std::string* err);
  // Drops a parked tip or an overtaken deletion (its parked name, or the tip's oid or a unique
  // prefix of it) on every node; *what describes what was dropped.
  bool drop(const std::string& repo, const std::string& which, std::string* what, std::string* err);
  // A repo this node serves (a mirror that was not removed).
  bool known(const std::string& repo);
  std::vector<std::string> removed_repos();

  // `mesh repos --json`; the commands in it use `url_base` ("https://localhost:7979") and
  // `mesh` (the command that reaches this node, e.g. "mesh --root /x").
  std::string repos_json(const std::string& url_base, const std::string& mesh);
  std::size_t pending() const;
  // Members over a per-member limit ({"<id>":{"repos_refused":n,"fetches_deferred":n}}).
  std::string quota_json() const { return quota_.json(); }

 private:
  struct Job {
    std::string repo;
    std::string only;                 // sync: fetch from this member first and regardless
    std::vector<std::string> prefer;  // members to fetch from first (the events' origins)
    // Updates to acknowledge to their origins once this node applied them.
    std::vector<std::pair<std::string, RegistryUpdate>> acks;
    int attempts = 0;
    std::chrono::steady_clock::time_point not_before{};
    // Large teams: a job that let the first members fetch first (fan_out_later) waits this
    // long once, or until a member acknowledges the tip (wake).
    bool deferred = false;
    std::chrono::milliseconds defer{0};
  };
  // In a team of more than kFirstWave members, whether this node waits for others to fetch
  // `oid` first and then fetches from them (about kFirstWave nodes fetch from the origin).
  bool fan_out_later(const std::string& oid, std::size_t team_size) const;

  static Job make_job(std::string repo, std::string only = {},
                      std::vector<std::string> prefer = {}) {
    Job j;
    j.repo = std::move(repo);
    j.only = std::move(only);
    j.prefer = std::move(prefer);
    return j;
  }

  // jobs
  void run();
  void enqueue(Job job);
  void enqueue_locked(Job job);
  void process(Job& job);  // materialize.cpp
  bool fetch_missing(const std::string& repo, const std::vector<std::string>& need, const Job& job,
                     std::map<std::string, std::string>* advertised);
  // One fetch from `peer` at `addr`, on its own thread. True once it ended (*err: "" or why);
  // false when the job stopped waiting for it because a linked member acknowledged having
  // every tip in `need` meanwhile (never for a sync, `sync`), or the replicator stops.
  struct Inflight {
    std::atomic<bool> cancel{false};  // set when given up on: libgit2 stops at its next callback
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;   // the fetch ended (err, advertised)
    bool woken = false;  // a member acknowledged a tip of the repo, or stop()
    std::string err;
    std::map<std::string, std::string> advertised;
  };
  bool fetch_or_give_up(const std::string& repo, const PeerInfo& peer, const std::string& addr,
                        const std::vector<std::string>& need, bool sync,
                        std::map<std::string, std::string>* advertised, std::string* err);
  // Whether an up member linked to this node, other than `besides`, acknowledged all of `need`.
  bool held_elsewhere(const std::string& repo, const std::vector<std::string>& need,
                      const std::string& besides);
  // The address book of fetches: the last address that worked, backoff for failing ones.
  void record_fetch(const std::string& where, const std::string& id, const std::string& addr,
                    bool ok);
  // Under the repo lock: the mirror's refs made to match the registry. Returns false to retry.
  bool apply_plans(const std::string& repo, std::vector<PushRecord>* adopted);
  void send_acks(const std::string& repo, Job& job);
  // Jobs of `repo` waiting for a retry run now (a member just acknowledged having a tip).
  void wake(const std::string& repo);
  // Offers (offers.cpp): a want for the tips no member could supply; the offer thread.
  void ask_for_objects(const std::string& repo, const std::vector<std::string>& missing);
  void run_offers();
  void send_offer(const std::string& to, const Want& want);
  std::vector<std::string> unavailable(const std::string& repo,
                                       const std::vector<std::string>& missing);

  // registry
  std::optional<RepoRegistry> registry_of(const std::string& repo);
  bool save_locked(const std::string& repo, std::string* err);
  Key next_key_locked();
  std::map<std::string, RefPlan> plans(const std::string& repo, const RepoRegistry& reg);
  // A local change (a push, or a ref found changed in the mirror) recorded under a new key.
  PushRecord record_local(const std::string& repo, const std::vector<RefChange>& changes,
                          std::optional<std::uint64_t> clock);
  void seed(const std::string& repo);
  void publish_payloads(const std::string& repo, const std::vector<std::string>& payloads);
  void retry_outbox();

  std::string name_of(const std::string& id);
  static std::string key_of(const std::string& id);

  Mirrors& mirrors_;
  Services& services_;
  std::shared_ptr<RepoLocks> locks_;
  ReplicatorOptions options_;
  RegistryStore store_;
  MemberQuota quota_;

  // The registries and the clock.
  std::mutex reg_mu_;
  std::map<std::string, RepoRegistry> regs_;
  std::uint64_t clock_ = 0;
  // Bumped on every registry change (wakes pushes waiting for their answer).
  std::atomic<std::uint64_t> registry_changes_{0};

  // Jobs.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  std::set<std::string> busy_;                               // repos with a job in progress
  std::vector<std::pair<std::string, std::string>> outbox_;  // (repo, payload) not published
  // (repo, oid) -> when a fetch first failed to bring it (for unavailable_after).
  std::map<std::pair<std::string, std::string>, std::chrono::steady_clock::time_point>
      missing_since_;
  std::set<std::string> woken_;  // repos whose running job is to run again at once
  // member -> the address its last successful fetch used (tried first next time).
  std::map<std::string, std::string> good_address_;
  // "<member> <address>" -> (not before, backoff) after a failed fetch there.
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, std::chrono::milliseconds>>
      failing_;
  std::map<std::string, std::chrono::steady_clock::time_point> wanted_at_;  // repo -> last want
  // repo -> the fetch its job is waiting for (wake() tells it a member acknowledged a tip);
  // fetches given up on that may still run (joined as they end, and by stop()).
  std::map<std::string, std::shared_ptr<Inflight>> inflight_;
  std::list<std::pair<std::thread, std::shared_ptr<Inflight>>> stragglers_;

  // Offers: wants addressed to this node, sent one at a time by their own thread.
  std::mutex offer_mu_;
  std::condition_variable offer_cv_;
  std::deque<std::pair<std::string, Want>> offers_;  // (wanter, want)
  std::thread offer_thread_;

  // Anti-entropy. Our digests as last computed by refresh_heartbeat(), which runs after every
  // ref change this plugin makes or sees: anti-entropy compares against these instead of
  // reopening every mirror every tick.
  std::mutex refresh_mu_;  // serialises refresh_heartbeat()
  std::map<std::string, std::string> digests_;
  unsigned ticks_ = 0;
  std::map<std::pair<std::string, std::string>, int> mismatches_;
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> settled_;

  // Acknowledgements: (repo, ref, value) -> nodes that have it, for pushes being waited for;
  // and (repo, value) -> nodes known to have that tip (fetch sources), bounded.
  std::mutex ack_mu_;
  std::condition_variable ack_cv_;
  std::map<std::tuple<std::string, std::string, std::string>, std::set<std::string>> acks_;
  std::map<std::pair<std::string, std::string>, std::set<std::string>> holders_;
};

}  // namespace mesh::repl
