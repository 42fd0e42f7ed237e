// The state every part of the ci glue works on, under one lock: the folded runs and slots, the
// store behind them, this node's view of the members, and the helpers that publish records.
// Originator, Worker, Scheduler, LogView and the CLI each hold a reference to it; Ci (ci.hpp)
// owns it and takes the lock around every entry point.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "env.hpp"
#include "git_repos.hpp"
#include "records.hpp"
#include "run_book.hpp"
#include "settings.hpp"
#include "slot_book.hpp"
#include "store.hpp"

namespace mesh::ci {

// Topics besides `ci` and `ci.log.live` (records.hpp).
inline constexpr std::string_view kRefsTopic = "refs";
inline constexpr std::string_view kSyncTopic = "local.sync";           // core: fetch now
inline constexpr std::string_view kPushNoteTopic = "local.push.note";  // replication prints it

struct Shared {
  Shared(Env& env, Settings settings, std::filesystem::path data_dir,
         std::filesystem::path repos_dir, std::string self_id, std::string self_name);

  Env& env;
  Settings settings;
  std::filesystem::path data_dir;
  GitRepos git;
  Store store;
  std::string self;       // this node's id
  std::string self_name;  // and name

  std::mutex mu;  // everything below
  RunBook book;
  SlotBook slots;

  // ---- helpers (call with mu held) ----
  void log(Level level, const std::string& m) { env.log(level, m); }
  // Encodes and publishes a record on `ci`; logs and returns false when that fails.
  bool publish(const Record& r);
  bool publish_live(const LiveChunk& c);

  // The members as of the last refresh (at most a second old) and this node.
  void refresh_members(bool force = false);
  const std::vector<Member>& members() const { return members_; }
  bool is_up(std::string_view node) const;
  // A node's roster name, or a short form of its id.
  std::string name_of(std::string_view node) const;
  // Every member that is up with its runners as its heartbeat says, and this node with what its
  // runners offer; `reserved` slots (assignments not yet seen in a heartbeat) are taken off.
  std::vector<NodeInfo> nodes() const;
  // What this node offers others now: its runners when it runs jobs, each with its free slots
  // less the runs it claimed that have no job running yet.
  std::vector<RunnerInfo> advertised() const;
  const std::vector<RunnerInfo>& local_runners() const { return local_runners_.runners; }
  bool runs_jobs() const { return local_runners_.enabled; }
  // Runs this node claimed (or is about to) with no job running yet: the host does not count
  // them, so the heartbeat does.
  std::uint32_t pending_claims = 0;
  // An assignment this originator just made: that node has one slot less until its heartbeat
  // shows it (5 s) or the run ends, whichever comes first.
  void reserve(const std::string& node, const std::string& run);
  void release(const std::string& run);

  std::uint64_t now_ms() { return env.now_ms(); }
  std::uint64_t mono_ms() { return env.mono_ms(); }

 private:
  std::vector<Member> members_;
  std::uint64_t members_at_ = 0;
  bool members_valid_ = false;
  LocalRunners local_runners_;
  double load_ = 0;
  struct Reservation {
    std::string run;
    std::uint64_t at = 0;  // mono
  };
  std::map<std::string, std::vector<Reservation>> reserved_;  // by node
};

// "build, test" for a run's jobs.
std::string job_list(const RunState& run);

}  // namespace mesh::ci
