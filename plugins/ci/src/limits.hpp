// Every limit of the ci plugin in one place (docs/ci.md lists them). A pipeline, a secrets
// file, a heartbeat or a record that exceeds one is refused with a message naming it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mesh::ci::limits {

// .mesh/mesh-ci.yml
inline constexpr std::size_t kPipelineBytes = 256 * 1024;
inline constexpr std::size_t kYamlNodes = 20'000;  // nodes visited, aliases counted each time
inline constexpr std::size_t kYamlDepth = 16;      // the schema itself needs 5
inline constexpr std::size_t kErrors = 20;         // errors collected before giving up
inline constexpr std::size_t kJobs = 64;
inline constexpr std::size_t kCommands = 100;  // per job
inline constexpr std::size_t kCommandBytes = 8 * 1024;
inline constexpr std::size_t kJobCommandBytes = 64 * 1024;  // all commands of one job
inline constexpr std::size_t kEnvEntries = 64;              // per job
inline constexpr std::size_t kEnvValueBytes = 4 * 1024;
inline constexpr std::size_t kJobSecrets = 32;
inline constexpr std::size_t kLabels = 16;
inline constexpr std::size_t kBranchPatterns = 64;
inline constexpr std::size_t kBranchPatternBytes = 255;
inline constexpr std::size_t kSchedules = 16;
inline constexpr std::size_t kCronBytes = 128;
inline constexpr std::size_t kNameBytes = 64;  // pipeline, job, label, env and secret names
inline constexpr std::size_t kImageBytes = 255;
inline constexpr std::size_t kModeBytes = 32;
inline constexpr std::uint64_t kDefaultTimeoutMs = 30ull * 60 * 1000;  // 30m
inline constexpr std::uint64_t kMaxTimeoutMs = 6ull * 60 * 60 * 1000;  // 6h
inline constexpr std::size_t kReasonBytes = 4 * 1024;                  // a recorded failure reason

// <root>/secrets.yml
inline constexpr std::size_t kSecretsFileBytes = 1024 * 1024;
inline constexpr std::size_t kSecrets = 256;
inline constexpr std::size_t kSecretValueBytes = 16 * 1024;

// Records on topic `ci` (the gossip payload limit).
inline constexpr std::size_t kEventBytes = 64 * 1024;
inline constexpr std::size_t kRecordsPerRun = 1024;  // control records kept per run
inline constexpr std::uint32_t kMaxAttempts = 5;     // assignments of one run, the first included

// Logs.
inline constexpr std::size_t kSegmentDataBytes = 36 * 1024;   // compressed bytes per segment
inline constexpr std::size_t kSegmentRawBytes = 1024 * 1024;  // decompressed bytes per segment
inline constexpr std::size_t kLiveChunkBytes = 32 * 1024;     // raw bytes per live chunk
inline constexpr std::size_t kDefaultJobLogBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxJobLogBytes = 64 * 1024 * 1024;

// Heartbeats (the ci part of each node's heartbeat, at most 8 KiB).
inline constexpr std::size_t kHeartbeatBytes = 8 * 1024;
inline constexpr std::size_t kRunnersPerNode = 16;
inline constexpr std::uint32_t kMaxSlots = 64;

// Leases.
inline constexpr std::uint64_t kClaimWindowMs = 10'000;  // assigned -> claimed
inline constexpr std::uint64_t kLeaseMs = 30'000;        // one renewal is good for this long
inline constexpr std::uint64_t kRenewEveryMs = 10'000;
// A run whose deadline passed this long ago may be ended by any member (its originator is gone
// too). Longer than the 10 minutes of clock skew that gossip accepts.
inline constexpr std::uint64_t kOrphanGraceMs = 15ull * 60 * 1000;

}  // namespace mesh::ci::limits
