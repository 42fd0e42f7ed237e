// The team: derived from signed `roster` events in the feeds (ARCHITECTURE.md §3).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/gossip/event.hpp"

namespace mesh::gossip {

inline constexpr std::string_view kRosterTopic = "roster";

struct Member {
  PublicKey key;
  std::string name;
  std::vector<std::string> addresses;  // announced by the member itself or by its admitter
  std::uint64_t since_lamport = 0;
  // The network the member announced its addresses from (host_scope(), "" if it did not
  // say): its loopback addresses work only from a node with the same tag.
  std::string host;
};

// Up to 32 lower-case hex digits.
bool valid_host_tag(std::string_view tag);
// Whether `address` of member m can be dialled from a node whose tag is own_host: a loopback
// address (127.0.0.0/8, ::1, localhost) only from the member's own host and network namespace,
// where it leads to the member and not to the dialler's own daemon. Others always.
bool address_usable(const Member& m, std::string_view address, std::string_view own_host);

// Roster payloads are JSON objects (documented in docs/protocol.md):
//   {"op":"admit","key":"mesh:…","name":"bob","addresses":["10.0.0.2:7979"]}
//   {"op":"remove","key":"mesh:…"}
//   {"op":"rename","key":"mesh:…","name":"robert"}
//   {"op":"addresses","key":"mesh:…","addresses":[…],"host":"<hex>"}  ("host" optional)
struct RosterOp {
  enum class Kind : std::uint8_t { admit, remove, rename, addresses };
  Kind kind = Kind::admit;
  PublicKey key;
  std::string name;
  std::vector<std::string> addresses;
  std::string host;  // addresses ops: the announcer's host tag (optional)
};
Bytes encode_roster_op(const RosterOp& op);
Result<RosterOp> decode_roster_op(std::span<const std::uint8_t> payload);

// At most this many roster events are kept (older ones beyond it are ignored, logged).
inline constexpr std::size_t kMaxRosterEvents = 100'000;

// Membership rule: this node is a member; a key admitted by a member is a member; a removal by
// a member is a tombstone that wins over admits with a lower (lamport, origin). Rebuilt from
// all stored roster events, so every node that holds the same events derives the same team.
// Details (docs/protocol.md, "Roster"): the state is a fixpoint over every event seen so far,
// so arrival order does not matter. A removed key's events after its removal count for
// nothing; a key cannot remove itself; names and addresses are last-writer-wins by
// (lamport, origin). Joiners admit their inviter, which is what makes the admit graph
// reachable from every node's self.
class Roster {
 public:
  explicit Roster(PublicKey self);
  // Feeds one stored roster event (any order; the state is recomputed). Events that are not
  // valid roster ops, or were seen already (origin, seq), change nothing. Returns true if the
  // derived roster (members, removals, names, addresses) changed.
  bool apply(const Event& event);
  // The same for many events with one recomputation (rebuild on open).
  bool apply(std::span<const Event> events);
  bool is_member(const PublicKey& key) const;  // thread-safe and cheap (TLS handshakes call it)
  // A live tombstone for key. Self can be removed by others (is_removed) and still be a member
  // in its own view (is_member(self) is always true).
  bool is_removed(const PublicKey& key) const;
  std::vector<Member> members() const;                     // including self
  std::optional<Member> find(const PublicKey& key) const;  // members only
  // An exact name (only if one member has it), a full `mesh:` id, or a unique id prefix of at
  // least 4 characters (with or without "mesh:").
  std::optional<Member> find_by_name(std::string_view name) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mesh::gossip
