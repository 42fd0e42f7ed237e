// Reading a run's logs on any node: the stored segments of its current attempt (from the
// assignee only), the live chunks of jobs still running (kept in memory, bounded, so a
// follower that arrives mid-job sees the job from its first byte), and `--follow`, which
// streams a run job by job, in the run's order, until it ends.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "shared.hpp"

namespace mesh::ci {

struct JobLogView {
  std::string name;
  JobPhase phase = JobPhase::pending;
  std::optional<std::int32_t> exit_code;
  std::string reason;
  std::uint64_t started_ms = 0, ended_ms = 0;
  std::string log;        // what this node has, contiguous from the start
  bool complete = false;  // the stored log is whole (the job ended and every segment is here)
  std::uint64_t dropped = 0;
};

// The live output of running jobs, as it came in ci.log.live chunks.
class LiveLogs {
 public:
  // Returns false for a chunk that does not continue what is held (a gap: the stored log will
  // have it).
  bool add(const LiveChunk& c);
  // Bytes held for (run, attempt, job), contiguous from 0, or nullptr.
  const std::string* find(const std::string& run, std::uint32_t attempt,
                          const std::string& job) const;
  void forget_run(const std::string& run);

 private:
  using Key = std::tuple<std::string, std::uint32_t, std::string>;
  std::map<Key, std::string> bufs_;
  std::list<Key> order_;  // oldest first, for the memory cap
  std::size_t bytes_ = 0;
};

// (lock held) The run's jobs with their logs, `job` empty for all (in the run's order).
std::vector<JobLogView> read_logs(Shared& s, const LiveLogs& live, const RunState& run,
                                  const std::string& job);
// (lock held) The same from what was read before: the jobs' states from the run, the stored
// logs as they were, and the live output where it has grown (no disk read).
void refresh_logs(const LiveLogs& live, const RunState& run, std::vector<JobLogView>& jobs);

// `mesh ci logs ... --follow`: pending CLI calls that stream a run until it ends.
class Followers {
 public:
  Followers(Shared& s, LiveLogs& live) : s_(s), live_(live) {}
  // (lock held) Starts following; prints what is there already.
  void add(std::uint64_t call, const RunState& run, const std::string& job, bool json);
  // (lock held) Something about `run` changed: a record or a stored segment (`stored`), or a
  // live chunk (only the live output is looked at again).
  void update(const std::string& run, bool stored = true);
  // (lock held) Deadlines and gone clients.
  void tick();
  // (lock held) Answers every follower (the plugin stops).
  void stop();

 private:
  struct Follow {
    std::uint64_t call = 0;
    std::string run;
    std::string job;
    bool json = false;
    std::size_t current = 0;  // index into the run's jobs being printed
    std::uint64_t printed = 0;
    bool header = false;
    std::uint64_t ended_mono = 0;  // when the run was first seen ended
    std::vector<JobLogView> jobs;  // as last read
    bool stale = true;             // the store changed since
  };
  // Prints what it can; true when the follow is over (answered).
  bool advance(Follow& f);

  Shared& s_;
  LiveLogs& live_;
  std::list<Follow> follows_;
};

// The text form of a run's logs (`mesh ci logs` without --json), and its JSON.
std::string logs_text(const RunState& run, const std::vector<JobLogView>& jobs);
std::string logs_json(const RunState& run, const std::vector<JobLogView>& jobs);
// "==> build (passed, exit 0, 3s) <==" and friends.
std::string job_header(const JobLogView& j);
std::string job_footer(const JobLogView& j);

}  // namespace mesh::ci
