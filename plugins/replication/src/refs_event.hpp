// The payload of a `refs` event (docs/protocol.md "Replication events"): a push's ref updates
// under one replication clock, or a repo removed or restored. Encoding splits a large push
// into payloads that stay well under the 64 KiB event limit; decoding validates every name,
// oid and count, so what it returns can reach paths and git argv.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry.hpp"

namespace mesh::repl {

inline constexpr std::size_t kMaxRefsPayload = 64 * 1024;
inline constexpr std::size_t kMaxUpdatesPerEvent = 1000;
inline constexpr std::size_t kMaxSupersedesPerUpdate = 64;

struct RefsEvent {
  enum class Op { updates, remove, restore } op = Op::updates;
  std::string repo;
  std::uint64_t clock = 0;
  std::vector<RegistryUpdate> updates;  // op == updates: at least one
  bool forced = false;                  // informational: some update is not a fast-forward
};

// One or more payloads (updates split so that each stays under `budget` bytes).
std::vector<std::string> encode_refs_event(const RefsEvent& e, std::size_t budget = 48 * 1024);

enum class DecodeStatus { ok, legacy, invalid };
// `legacy`: an event of a version without a clock (before the registry); nothing to apply.
DecodeStatus decode_refs_event(std::string_view payload, RefsEvent* out, std::string* why);

}  // namespace mesh::repl
