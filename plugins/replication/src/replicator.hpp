// Propagation: refs events out after a push, fetch-and-apply in, acknowledgements, and
// anti-entropy from the ref digests in heartbeats. SDK-free: the plugin glue (plugin.cpp)
// supplies the daemon's services through `Services`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mirror.hpp"
#include "tombstones.hpp"

namespace mesh::repl {

struct PeerInfo {
  std::string id;  // "mesh:<key>"
  std::string name;
  bool up = false;
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
};

// Topics. "refs" events are stored (every member applies them, also after being offline);
// acknowledgements are live-only.
inline constexpr const char* kRefsTopic = "refs";
inline constexpr const char* kAckTopic = "refs-ack.live";

struct ReplicatorOptions {
  std::filesystem::path state_dir;  // pending.json and tombstones.json live here
  std::string self_id;              // "mesh:<key>"
  std::size_t max_updates_per_event = 300;
  std::size_t max_pending = 10'000;  // queued jobs; beyond, events are retried by the bus
  int max_attempts = 30;             // per job, about a second apart at first, then 30 s
  std::size_t workers = 4;           // jobs of different repos run in parallel
};

class Replicator {
 public:
  Replicator(Mirrors& mirrors, Services& services, ReplicatorOptions options);
  ~Replicator();
  void start();  // loads pending jobs and starts the worker
  void stop();

  // After a push to this node changed refs: publish the refs events, clear resolved
  // divergences, refresh the digests. Returns false (with a logged reason) if publishing failed.
  bool pushed(const std::string& repo, const std::vector<RefChange>& changes);
  // Blocks up to `wait` for the other up members to acknowledge `changes`; returns the line a
  // push shows: "replicated to k/N nodes".
  std::string wait_replicated(const std::string& repo, const std::vector<RefChange>& changes,
                              std::chrono::milliseconds wait);

  // Event handlers (quick: they only queue). on_refs returns false when the queue is full
  // (the bus redelivers later).
  bool on_refs(const std::string& origin, std::string_view payload);
  void on_ack(const std::string& origin, std::string_view payload);

  // Compares the digests in peers' heartbeats with ours; a mismatch seen twice in a row queues
  // a sync with that peer. Called from a timer.
  void anti_entropy();
  // Queues a sync of `repo` (all repos if empty) with every up member now. Returns how many
  // syncs were queued.
  std::size_t sync_now(const std::string& repo);

  // `mesh repos --json`.
  std::string repos_json();
  // Recomputes the digests and hands them to the heartbeat.
  void refresh_heartbeat();
  std::size_t pending() const;

 private:
  struct Job {
    enum Kind { event, sync } kind = event;
    std::string origin;  // event: the pusher; sync: the peer
    std::string repo;
    std::vector<RefChange> changes;  // event only
    int attempts = 0;
    std::chrono::steady_clock::time_point not_before{};
  };

  void run();
  void process(Job& job);
  bool fetch_from(const std::string& repo, const std::vector<std::string>& need,
                  const std::string& preferred, std::map<std::string, std::string>* advertised,
                  const PeerInfo* only);
  void run_sync(Job& job);
  void ack(const std::string& repo, const std::vector<RefChange>& done);
  void save_locked();
  void load();
  void enqueue_locked(Job job);
  // Keeps the tombstones in step with ref changes made here (deletion: add; else: clear).
  void remember(const std::string& repo, const std::vector<RefChange>& changes);
  // A member advertises `oid` at a ref deleted here: the deleted tip or one of its ancestors.
  bool deleted_here(const std::string& repo, const std::string& ref, const std::string& oid);
  static std::string key_of(const std::string& id);

  Mirrors& mirrors_;
  Services& services_;
  ReplicatorOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::atomic<bool> stopping_{false};  // also read by wait_replicated() under ack_mu_
  std::vector<std::thread> workers_;
  std::set<std::string> busy_;  // repos with a job in progress
  std::mutex refresh_mu_;       // serialises refresh_heartbeat()

  // Our digests as last computed by refresh_heartbeat(), which runs after every ref change this
  // plugin makes or sees (pushes, applied events, syncs): anti-entropy compares against these
  // instead of reopening every mirror every tick.
  std::map<std::string, std::string> digests_;
  unsigned ticks_ = 0;  // anti_entropy() calls (the plugin's timer: one at a time)
  // Anti-entropy bookkeeping: (peer, repo) -> consecutive mismatches; and the last
  // (their digest, our digest) pair a sync found nothing new for.
  std::map<std::pair<std::string, std::string>, int> mismatches_;
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> settled_;
  // Refs deleted here: anti-entropy must not resurrect them from a member that has not
  // applied the deletion yet. Persisted (tombstones.json), 30 days.
  Tombstones tombs_;

  // Acknowledgements: (repo, ref, new oid) -> nodes that have it.
  std::mutex ack_mu_;
  std::condition_variable ack_cv_;
  std::map<std::tuple<std::string, std::string, std::string>, std::set<std::string>> acks_;
};

}  // namespace mesh::repl
