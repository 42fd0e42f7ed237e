// The ci plugin's glue as one object, free of the ABI: it takes the node's events, timer ticks
// and CLI calls, and acts through an Env (plugin.cpp implements it with the host, the tests
// with a simulated mesh). One lock (Shared::mu) orders everything; entry points take it.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "logs.hpp"
#include "originator.hpp"
#include "scheduler.hpp"
#include "shared.hpp"
#include "web.hpp"
#include "worker.hpp"

namespace mesh::ci {

class Ci {
 public:
  Ci(Env& env, Settings settings, std::filesystem::path data_dir, std::filesystem::path repos_dir,
     std::string self_id, std::string self_name);
  ~Ci();
  Ci(const Ci&) = delete;
  Ci& operator=(const Ci&) = delete;

  // Rebuilds the runs from the store. Returns the name of the subscription cursor for topic
  // `ci`: a new one when the store was unusable and has been wiped, so that the host delivers
  // every stored record again.
  std::string open();

  // An event of topic `ci` or `ci.log.live`. False: not taken (the store failed), deliver it
  // again later. from.origin must be set (this node's id for its own events).
  bool on_event(const Envelope& from, std::string_view topic, std::string_view payload);
  // A `refs` event. Only this node's own pushes start runs (a relayed event never does), and
  // only fresh ones (push_max_age_ms). Publishes the push note for replication.
  void on_refs(const Envelope& from, std::string_view payload);
  // Replication applied updates to `repo` on this node (its refs-ack.live).
  void on_repo_updated(const std::string& repo);
  // About once a second.
  void tick();
  CliOut cli(std::uint64_t call, const std::vector<std::string>& args, bool json);
  // Stops jobs and threads; answers followers. No more Env calls afterwards.
  void stop();

  // For `mesh status` and the node page.
  std::string status_json();
  std::string status_text();

  Shared& shared() { return *s_; }
  CiWeb& web() { return *web_; }

 private:
  void after_change(const std::string& run, const Envelope& from);
  void retention();

  std::unique_ptr<Shared> s_;
  std::unique_ptr<Originator> origin_;
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<Scheduler> sched_;
  LiveLogs live_;
  std::unique_ptr<Followers> follow_;
  std::unique_ptr<CiCli> cli_;
  std::unique_ptr<CiWeb> web_;
  std::set<std::string> open_runs_;                  // runs that have not ended
  std::map<std::string, std::uint64_t> ended_live_;  // ended runs with live output, since
  std::atomic<bool> ticking_{false};
  std::atomic<bool> stopped_{false};
  std::uint64_t last_heartbeat_ = 0, last_announce_ = 0, last_cron_ = 0, last_retention_ = 0;
  std::string last_heartbeat_json_;
};

}  // namespace mesh::ci
