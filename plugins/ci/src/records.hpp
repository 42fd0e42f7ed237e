// The records of topic `ci`: JSON payloads of stored gossip events, each at most 64 KiB.
// docs/protocol.md ("CI records") is the schema; run_book.hpp folds them into run state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ids.hpp"
#include "result.hpp"
#include "states.hpp"

namespace mesh::ci {

inline constexpr std::string_view kTopic = "ci";               // stored
inline constexpr std::string_view kLiveTopic = "ci.log.live";  // ephemeral

struct JobSpec {
  std::string name;
  std::string mode;
  std::vector<std::string> needs;
};

// By the node that received the push (or ran `ci run`, or won the cron slot), before dispatch.
struct RunCreated {
  std::string repo;
  std::string ref;
  std::string sha;
  std::string trigger;      // "push" | "manual" | "schedule"
  std::string trigger_key;  // ids.hpp; the run id is derived from it
  std::string pipeline;     // pipeline.name; empty when the file could not be read
  std::vector<std::string> labels;
  Fallback fallback = Fallback::none;
  std::vector<JobSpec> jobs;  // the jobs this run runs, in file order (empty on a bad file)
};

// By the originator: attempt 1 is the first assignment, later ones are reassignments.
struct RunAssigned {
  std::uint32_t attempt = 0;
  std::string node;                                          // the runner's node, "mesh:..."
  std::vector<std::pair<std::string, std::string>> runners;  // mode -> runner name on that node
  std::uint64_t claim_by_ms = 0;                             // originator's clock
  std::string reason;                                        // why it was reassigned (attempt > 1)
};

// By the assignee: it accepts the attempt and holds a lease until lease_until_ms (its clock).
struct RunClaimed {
  std::uint32_t attempt = 0;
  std::uint64_t lease_until_ms = 0;
};

// By the assignee: it will not run this attempt (policy, missing commit, no free runner).
struct RunDeclined {
  std::uint32_t attempt = 0;
  std::string reason;
};

// By the assignee while it runs.
struct LeaseRenewed {
  std::uint32_t attempt = 0;
  std::uint64_t lease_until_ms = 0;
};

// By the assignee: one job changed state.
struct JobUpdate {
  std::uint32_t attempt = 0;
  std::string job;
  JobPhase state = JobPhase::pending;
  std::optional<std::int32_t> exit_code;
  std::uint64_t started_ms = 0;
  std::uint64_t ended_ms = 0;
  std::string reason;
};

// The run's terminal state (run_book.hpp says who may write which).
struct RunEnded {
  std::uint32_t attempt = 0;  // the attempt it ends (0: never assigned)
  RunPhase state = RunPhase::failed;
  std::string reason;
};

// By anyone.
struct CancelRequested {
  std::string reason;
};

// By the node elected for a cron slot, before it creates the slot's run.
struct SlotClaimed {
  SlotKey key;
  std::string slot;  // slot_id(key)
  std::string run;   // the run it creates for the slot
};

// A slot nobody ran (every eligible node was down, or the daemon was off): recorded, not run.
struct SlotMissed {
  SlotKey key;
  std::string slot;
  std::string reason;
};

// One piece of a job's stored log: zlib-compressed bytes, numbered from 0 per (attempt, job).
struct LogSegment {
  std::uint32_t attempt = 0;
  std::string job;
  std::uint64_t seq = 0;
  std::uint64_t offset = 0;  // of the first raw byte within the job's log
  std::uint64_t raw_len = 0;
  bool last = false;
  std::uint64_t dropped = 0;  // last only: bytes cut off by the log size cap
  std::string data;           // compressed
};

using RecordBody =
    std::variant<RunCreated, RunAssigned, RunClaimed, RunDeclined, LeaseRenewed, JobUpdate,
                 RunEnded, CancelRequested, SlotClaimed, SlotMissed, LogSegment>;

struct Record {
  std::string run;  // empty for slot.missed
  RecordBody body;
  // Only for RunAssigned: written as "run.reassigned" when attempt > 1.
};

// The "t" of a record: "run.created", "run.assigned" / "run.reassigned", "run.claimed",
// "run.declined", "run.lease", "job.state", "run.ended", "run.cancel", "slot.claimed",
// "slot.missed", "log.segment".
std::string_view record_type(const Record& r);

// JSON, at most limits::kEventBytes; refuses what a decoder would refuse.
Result<std::string> encode_record(const Record& r);
// Strict: known type, every field of the right type and within its limit, names valid. Fields
// it does not know are ignored (a later version may add some).
Result<Record> decode_record(std::string_view json);

// A live chunk on topic ci.log.live: raw (already masked) bytes of a running job.
struct LiveChunk {
  std::string run;
  std::uint32_t attempt = 0;
  std::string job;
  std::uint64_t offset = 0;
  std::string data;  // at most limits::kLiveChunkBytes
};
Result<std::string> encode_live_chunk(const LiveChunk& c);
Result<LiveChunk> decode_live_chunk(std::string_view json);

}  // namespace mesh::ci
