// Messages exchanged on a peer link (one WebSocket binary message each). Format in
// docs/protocol.md ("Link protocol"): the first byte is the type, then the body.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mesh/base/encoding.hpp"
#include "mesh/base/result.hpp"
#include "mesh/gossip/event.hpp"
#include "mesh/gossip/feed_store.hpp"

namespace mesh::gossip {

inline constexpr std::uint8_t kLinkProtocolVersion = 1;
// Equal to http::kMaxWsMessage (gossip does not depend on http).
inline constexpr std::size_t kMaxLinkMessage = 256 * 1024;
// A version vector entry is 40 bytes; 4096 of them fit one message with room to spare.
inline constexpr std::size_t kMaxVersionVectorEntries = 4096;
// EVENTS batches are cut here so a batch plus its framing always fits kMaxLinkMessage.
inline constexpr std::size_t kLinkBatchBytes = 200 * 1024;
inline constexpr std::size_t kMaxLinkName = 64;

enum class LinkType : std::uint8_t { hello = 1, vv = 2, events = 3, live = 4, want = 5 };

struct HelloMsg {
  std::uint8_t version = kLinkProtocolVersion;
  std::string name;  // sender's node name, 0..64 bytes, no control characters
  VersionVector vv;
};
struct VvMsg {
  VersionVector vv;
};
// Encoded events, framed but not decoded: the engine decodes and verifies each one on its own,
// so one bad event is counted for its reason without discarding its neighbours.
struct EventsMsg {
  std::vector<Bytes> events;
};
struct LiveMsg {
  Bytes event;
};
struct WantMsg {
  PublicKey origin;
  std::uint64_t from_seq = 1;
};

using LinkMessage = std::variant<HelloMsg, VvMsg, EventsMsg, LiveMsg, WantMsg>;

// Empty string if the message breaks a limit (too many VV entries, an event of bad size, the
// whole over kMaxLinkMessage); otherwise the exact bytes decode_link accepts.
std::string encode_link(const LinkMessage& message);
// Validates everything: type, version, counts, lengths, key order, trailing bytes, total size.
// Errc::limit for an oversize message, Errc::unsupported for another hello version, otherwise
// Errc::invalid.
Result<LinkMessage> decode_link(std::string_view message);

// Builds EVENTS messages of at most kLinkBatchBytes of events each.
class EventsBatcher {
 public:
  // False if the event would not fit; flush() first (an empty batch always takes one event).
  bool add(const Event& event);
  bool add_encoded(Bytes encoded);
  bool empty() const { return msg_.events.empty(); }
  std::size_t bytes() const { return bytes_; }
  std::string flush();  // the EVENTS message, and resets; empty string if nothing was added

 private:
  EventsMsg msg_;
  std::size_t bytes_ = 0;
};

}  // namespace mesh::gossip
