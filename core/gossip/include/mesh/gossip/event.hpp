// The signed event envelope: the unit of gossip. Wire format in docs/protocol.md ("Event").
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "mesh/base/encoding.hpp"
#include "mesh/base/result.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::gossip {

using identity::PublicKey;
using identity::Signature;

inline constexpr std::uint8_t kEventVersion = 1;
inline constexpr std::size_t kMaxTopic = 64;
inline constexpr std::size_t kMaxPayload = 64 * 1024;
// version, origin, seq, lamport, wall_ms, topic length, payload length, signature.
inline constexpr std::size_t kEventOverhead = 1 + 32 + 8 + 8 + 8 + 1 + 4 + 64;
inline constexpr std::size_t kMinEventSize = kEventOverhead + 1;  // the topic is never empty
inline constexpr std::size_t kMaxEventSize = kEventOverhead + kMaxTopic + kMaxPayload;
// Wall clocks may run ahead of ours by this much; beyond it the event is refused.
inline constexpr std::uint64_t kMaxFutureSkewMs = 10 * 60 * 1000;

struct Event {
  PublicKey origin;
  std::uint64_t seq = 0;  // 1, 2, 3 ... per origin, no gaps
  std::uint64_t lamport = 0;
  std::uint64_t wall_ms = 0;  // unix milliseconds of the origin's clock
  std::string topic;
  Bytes payload;
  Signature signature{};

  friend bool operator==(const Event&, const Event&) = default;
};

// Why an event (or an append) was refused, so the daemon can count rejections per reason.
// Every gossip Error carries an Errc that maps to exactly one reason (see reject_reason).
enum class RejectReason : std::uint8_t {
  none,
  malformed,      // Errc::invalid: structure, topic grammar, seq 0, trailing bytes, truncation
  bad_version,    // Errc::unsupported: a version byte we do not speak
  oversize,       // Errc::limit: payload or encoding over the limit
  bad_signature,  // Errc::crypto
  not_member,     // Errc::denied: origin is not a current roster member
  future,         // Errc::state: wall clock too far ahead of ours (may be fine later)
  duplicate,      // Errc::exists: (origin, seq) already stored
  gap,            // Errc::not_found: earlier seqs of that origin are missing
  lamport,        // the engine's Lamport bound (lamport_acceptable); no Errc maps to it
  io,             // Errc::io, anything else
};

std::string_view to_string(RejectReason reason);
RejectReason reject_reason(const Error& error);

// `[a-z][a-z0-9._-]{0,63}`; also used for subscriber names, so it must stay path-safe.
bool valid_topic(std::string_view topic);

// Checks the fields against the limits (not the signature). encode/sign need this to hold.
Status check_structure(const Event& event);

// Signs a new event. Fails only if topic or payload break the limits.
Result<Event> sign_event(const identity::Identity& id, std::uint64_t seq, std::uint64_t lamport,
                         std::uint64_t wall_ms, std::string_view topic,
                         std::span<const std::uint8_t> payload);

// The canonical encoding. Returns empty bytes if check_structure(event) fails.
Bytes encode(const Event& event);
// Structure only: the signature is not checked (use verify). Exactly the bytes encode makes.
Result<Event> decode(std::span<const std::uint8_t> data);

// The bytes the signature covers: the domain prefix plus the encoding without the signature.
Bytes signing_input(const Event& event);

using MemberCheck = std::function<bool(const PublicKey&)>;

// Everything an event must pass before it is stored or acted on: limits, signature, membership,
// and a wall clock no more than kMaxFutureSkewMs ahead of now_ms. Duplicates are the feed's job.
Status verify(const Event& event, std::uint64_t now_ms, const MemberCheck& is_member);

}  // namespace mesh::gossip
