#include "mesh/gossip/event.hpp"

#include <algorithm>

#include "wire.hpp"

namespace mesh::gossip {
namespace {

// The trailing NUL keeps one domain from being a prefix of another.
constexpr std::string_view kDomain{"mesh-event-v1\0", 14};

Error malformed(std::string what) {
  return make_error(Errc::invalid, "malformed event: " + what);
}

// Everything but the signature; encode() appends the signature to exactly these bytes.
void write_unsigned(const Event& e, Bytes& out) {
  wire::Writer w(out);
  w.u8(kEventVersion);
  w.raw(e.origin.bytes);
  w.u64(e.seq);
  w.u64(e.lamport);
  w.u64(e.wall_ms);
  w.u8(static_cast<std::uint8_t>(e.topic.size()));
  w.raw(e.topic);
  w.u32(static_cast<std::uint32_t>(e.payload.size()));
  w.raw(e.payload);
}

}  // namespace

std::string_view to_string(RejectReason reason) {
  switch (reason) {
    case RejectReason::none:
      return "none";
    case RejectReason::malformed:
      return "malformed";
    case RejectReason::bad_version:
      return "bad_version";
    case RejectReason::oversize:
      return "oversize";
    case RejectReason::bad_signature:
      return "bad_signature";
    case RejectReason::not_member:
      return "not_member";
    case RejectReason::future:
      return "future";
    case RejectReason::duplicate:
      return "duplicate";
    case RejectReason::gap:
      return "gap";
    case RejectReason::lamport:
      return "lamport";
    case RejectReason::io:
      return "io";
  }
  return "io";
}

RejectReason reject_reason(const Error& error) {
  switch (error.code) {
    case Errc::invalid:
      return RejectReason::malformed;
    case Errc::unsupported:
      return RejectReason::bad_version;
    case Errc::limit:
      return RejectReason::oversize;
    case Errc::crypto:
      return RejectReason::bad_signature;
    case Errc::denied:
      return RejectReason::not_member;
    case Errc::state:
      return RejectReason::future;
    case Errc::exists:
      return RejectReason::duplicate;
    case Errc::not_found:
      return RejectReason::gap;
    default:
      return RejectReason::io;
  }
}

bool valid_topic(std::string_view topic) {
  if (topic.empty() || topic.size() > kMaxTopic) return false;
  if (topic[0] < 'a' || topic[0] > 'z') return false;
  return std::all_of(topic.begin() + 1, topic.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

Status check_structure(const Event& e) {
  if (e.payload.size() > kMaxPayload) {
    return make_error(Errc::limit, "event payload is " + std::to_string(e.payload.size()) +
                                       " bytes, the limit is " + std::to_string(kMaxPayload));
  }
  if (!valid_topic(e.topic)) return malformed("bad topic");
  if (e.seq == 0) return malformed("seq 0 (sequences start at 1)");
  return {};
}

Bytes signing_input(const Event& e) {
  Bytes out;
  out.reserve(kDomain.size() + kEventOverhead + e.topic.size() + e.payload.size());
  wire::Writer(out).raw(kDomain);
  write_unsigned(e, out);
  return out;
}

Result<Event> sign_event(const identity::Identity& id, std::uint64_t seq, std::uint64_t lamport,
                         std::uint64_t wall_ms, std::string_view topic,
                         std::span<const std::uint8_t> payload) {
  Event e;
  e.origin = id.public_key();
  e.seq = seq;
  e.lamport = lamport;
  e.wall_ms = wall_ms;
  e.topic = std::string(topic);
  e.payload.assign(payload.begin(), payload.end());
  if (auto st = check_structure(e); !st) return st.error();
  e.signature = id.sign(signing_input(e));
  return e;
}

Bytes encode(const Event& e) {
  if (!check_structure(e)) return {};
  Bytes out;
  out.reserve(kEventOverhead + e.topic.size() + e.payload.size());
  write_unsigned(e, out);
  wire::Writer(out).raw(e.signature);
  return out;
}

Result<Event> decode(std::span<const std::uint8_t> data) {
  if (data.empty()) return malformed("empty");
  if (data[0] != kEventVersion) {
    return make_error(Errc::unsupported,
                      "event version " + std::to_string(data[0]) + " is not supported");
  }
  if (data.size() > kMaxEventSize) {
    return make_error(Errc::limit, "event is " + std::to_string(data.size()) +
                                       " bytes, the limit is " + std::to_string(kMaxEventSize));
  }
  wire::Reader r(data.subspan(1));
  Event e;
  std::span<const std::uint8_t> origin, topic, payload, sig;
  std::uint8_t topic_len = 0;
  std::uint32_t payload_len = 0;
  if (!r.raw(32, origin) || !r.u64(e.seq) || !r.u64(e.lamport) || !r.u64(e.wall_ms) ||
      !r.u8(topic_len)) {
    return malformed("truncated header");
  }
  if (topic_len == 0 || topic_len > kMaxTopic) return malformed("bad topic length");
  if (!r.raw(topic_len, topic) || !r.u32(payload_len)) return malformed("truncated topic");
  if (payload_len > kMaxPayload) {
    return make_error(Errc::limit, "event payload is " + std::to_string(payload_len) +
                                       " bytes, the limit is " + std::to_string(kMaxPayload));
  }
  if (!r.raw(payload_len, payload)) return malformed("truncated payload");
  if (!r.raw(64, sig)) return malformed("truncated signature");
  if (r.remaining() != 0) return malformed("trailing bytes");
  std::copy(origin.begin(), origin.end(), e.origin.bytes.begin());
  e.topic.assign(topic.begin(), topic.end());
  e.payload.assign(payload.begin(), payload.end());
  std::copy(sig.begin(), sig.end(), e.signature.begin());
  if (auto st = check_structure(e); !st) return st.error();
  return e;
}

Status verify(const Event& e, std::uint64_t now_ms, const MemberCheck& is_member) {
  if (auto st = check_structure(e); !st) return st;
  // Signature first, so that not_member and future count only authentic events.
  if (!e.origin.verify(signing_input(e), e.signature)) {
    return make_error(Errc::crypto, "event signature is invalid (origin " + e.origin.short_id() +
                                        ", seq " + std::to_string(e.seq) + ")");
  }
  if (!is_member || !is_member(e.origin)) {
    return make_error(Errc::denied, "event origin " + e.origin.short_id() + " is not a member");
  }
  if (e.wall_ms > now_ms && e.wall_ms - now_ms > kMaxFutureSkewMs) {
    return make_error(Errc::state, "event from " + e.origin.short_id() + " is " +
                                       std::to_string((e.wall_ms - now_ms) / 1000) +
                                       " s in the future (limit " +
                                       std::to_string(kMaxFutureSkewMs / 1000) + " s)");
  }
  return {};
}

}  // namespace mesh::gossip
