// Every limit of the issues data, in one place (docs/issues.md, "Limits"). Each one has a
// clear error where it is checked (validate.hpp) and a test.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mesh::issues {

inline constexpr std::size_t kMaxPayload = 64 * 1024;  // one stored event (the gossip limit)
inline constexpr std::size_t kMaxRepoName = 100;
inline constexpr std::size_t kMaxTitle = 256;          // bytes of UTF-8
inline constexpr std::size_t kMaxBody = 60 * 1024;     // issue bodies and comments
inline constexpr std::size_t kMaxLabel = 64;           // bytes of one label
inline constexpr std::size_t kMaxLabels = 64;          // distinct labels on one issue
inline constexpr std::size_t kMaxAssignee = 128;       // bytes of one assignee
inline constexpr std::size_t kMaxAssignees = 16;       // distinct assignees on one issue
inline constexpr std::size_t kMaxOrderKey = 1024;      // bytes of one order key
inline constexpr std::size_t kMaxTagsPerRemove = 256;  // observed tags one remove may name
inline constexpr std::uint64_t kMaxIssueNumber = 1'000'000'000;

// Ops that wait for their issue's create (Board's WaitingLimits defaults): per (origin,
// repo), in total, and in payload bytes. Past a cap an event is deferred (Board::apply says
// so; the glue answers MESH_EVENT_RETRY, so the host delivers it again later and that origin's
// delivery waits): bounded memory, nothing dropped. The host delivers a rebuild feed by feed,
// so ops on other origins' issues wait until those feeds come: the caps are sized for that
// (a rebuild of 50,000 ops from 3 origins peaks near 13,000 waiting; docs/issues.md), and one
// origin gets at most half the room, so a member publishing ops for issues that never come
// stalls only its own feed.
inline constexpr std::size_t kMaxWaitingPerOriginRepo = 50'000;
inline constexpr std::size_t kMaxWaitingTotal = 100'000;
inline constexpr std::size_t kMaxWaitingBytes = 64 * 1024 * 1024;

// What one member may make every node keep, over all repos (Board's MemberLimits defaults,
// [plugins.issues] max_*_per_member): issues it created, comments it wrote, and payload bytes
// of all its ops. Each of its events is charged when it arrives, in the member's own seq
// order, so the event that passes a limit is the same one on every node whatever else arrives
// in between; it is refused (reason "quota"), and so is everything after it that does not
// fit.
inline constexpr std::uint64_t kMaxIssuesPerMember = 20'000;
inline constexpr std::uint64_t kMaxCommentsPerMember = 200'000;
inline constexpr std::uint64_t kMaxBytesPerMember = 256ull * 1024 * 1024;

// The last refusals a Board keeps for `mesh status` and the logs.
inline constexpr std::size_t kRecentRefusals = 64;

}  // namespace mesh::issues
