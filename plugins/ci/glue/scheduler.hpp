// Cron (docs/ci.md, "Cron slots"): every node computes each schedule's slots from the
// pipeline on its repos' default branches; the slot runs on the up, eligible node with the
// lowest SHA-256(slot id, node id), which claims it with slot.claimed and creates its run (the
// run id comes from the slot id, so the run exists once even if two nodes both claim). A slot
// that passed without a claim -- nobody eligible was up, the daemon was off -- is recorded as
// slot.missed by the node that would run it, when it notices, and never run late.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "originator.hpp"
#include "pipeline.hpp"
#include "shared.hpp"

namespace mesh::ci {

class Scheduler {
 public:
  Scheduler(Shared& s, Originator& o);
  // (lock not held: it reads git) Every few seconds.
  void tick();

  // A slot is claimed when its minute began at most this long ago; later it is missed.
  static constexpr std::int64_t kClaimGraceS = 120;
  // Slots this far back are looked at again each tick (a claim may still be missing).
  static constexpr std::int64_t kLookBackS = 600;
  // After a long absence, at most this far back is recorded as missed.
  static constexpr std::int64_t kMaxCatchUpS = 7 * 24 * 3600;

 private:
  struct Cached {
    std::string sha;
    std::optional<Pipeline> pipeline;
  };
  void scan_repo(const std::string& repo, std::int64_t from_s, std::int64_t now_s);
  void slot(const std::string& repo, const Pipeline& p, const Schedule& sched,
            const std::string& branch, const std::string& tip, std::int64_t at_s,
            std::int64_t now_s, bool catch_up);
  void save_state(std::int64_t scanned_s);
  void remember(const std::string& id, std::int64_t at_s);

  Shared& s_;
  Originator& o_;
  std::map<std::string, Cached> pipelines_;  // repo -> its default branch's pipeline
  std::set<std::string> warned_;
  std::map<std::string, std::int64_t> mine_;  // slots this node recorded, by id -> at_s
  std::int64_t scanned_s_ = 0;                // slots up to here have been looked at (persisted)
};

}  // namespace mesh::ci
