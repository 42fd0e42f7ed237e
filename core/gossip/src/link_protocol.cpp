#include "mesh/gossip/link_protocol.hpp"

#include <algorithm>

#include "wire.hpp"

namespace mesh::gossip {
namespace {

Error malformed(std::string what) {
  return make_error(Errc::invalid, "malformed link message: " + what);
}

bool valid_name(std::string_view name) {
  return name.size() <= kMaxLinkName && std::all_of(name.begin(), name.end(), [](char c) {
           auto u = static_cast<unsigned char>(c);
           return u >= 0x20 && u != 0x7f;
         });
}

bool valid_event_size(std::size_t n) {
  return n >= kMinEventSize && n <= kMaxEventSize;
}

bool write_vv(wire::Writer& w, const VersionVector& vv) {
  std::size_t n = 0;
  for (const auto& [k, seq] : vv) n += seq > 0;
  if (n > kMaxVersionVectorEntries) return false;
  w.u16(static_cast<std::uint16_t>(n));
  for (const auto& [k, seq] : vv) {  // std::map: ascending key order, as decode requires
    if (seq == 0) continue;
    w.raw(k.bytes);
    w.u64(seq);
  }
  return true;
}

Result<VersionVector> read_vv(wire::Reader& r) {
  std::uint16_t n = 0;
  if (!r.u16(n)) return malformed("truncated version vector");
  if (n > kMaxVersionVectorEntries) return malformed("version vector too long");
  VersionVector vv;
  const PublicKey* prev = nullptr;
  for (std::uint16_t i = 0; i < n; ++i) {
    std::span<const std::uint8_t> key;
    std::uint64_t seq = 0;
    if (!r.raw(32, key) || !r.u64(seq)) return malformed("truncated version vector");
    if (seq == 0) return malformed("version vector entry with seq 0");
    PublicKey k;
    std::copy(key.begin(), key.end(), k.bytes.begin());
    if (prev && !(*prev < k)) return malformed("version vector keys out of order");
    prev = &vv.emplace_hint(vv.end(), k, seq)->first;
  }
  return vv;
}

}  // namespace

std::string encode_link(const LinkMessage& message) {
  Bytes out;
  wire::Writer w(out);
  bool ok = std::visit(
      [&](const auto& m) -> bool {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, HelloMsg>) {
          if (!valid_name(m.name)) return false;
          w.u8(static_cast<std::uint8_t>(LinkType::hello));
          w.u8(m.version);
          w.u8(static_cast<std::uint8_t>(m.name.size()));
          w.raw(m.name);
          return write_vv(w, m.vv);
        } else if constexpr (std::is_same_v<T, VvMsg>) {
          w.u8(static_cast<std::uint8_t>(LinkType::vv));
          return write_vv(w, m.vv);
        } else if constexpr (std::is_same_v<T, EventsMsg>) {
          if (m.events.empty() || m.events.size() > 0xffff) return false;
          w.u8(static_cast<std::uint8_t>(LinkType::events));
          w.u16(static_cast<std::uint16_t>(m.events.size()));
          for (const auto& e : m.events) {
            if (!valid_event_size(e.size())) return false;
            w.u32(static_cast<std::uint32_t>(e.size()));
            w.raw(e);
            if (out.size() > kMaxLinkMessage) return false;
          }
          return true;
        } else if constexpr (std::is_same_v<T, LiveMsg>) {
          if (!valid_event_size(m.event.size())) return false;
          w.u8(static_cast<std::uint8_t>(LinkType::live));
          w.raw(m.event);
          return true;
        } else {
          if (m.from_seq == 0) return false;
          w.u8(static_cast<std::uint8_t>(LinkType::want));
          w.raw(m.origin.bytes);
          w.u64(m.from_seq);
          return true;
        }
      },
      message);
  if (!ok || out.size() > kMaxLinkMessage) return {};
  return std::string(out.begin(), out.end());
}

Result<LinkMessage> decode_link(std::string_view message) {
  if (message.size() > kMaxLinkMessage) {
    return make_error(Errc::limit,
                      "link message over " + std::to_string(kMaxLinkMessage) + " bytes");
  }
  wire::Reader r(as_bytes(message));
  std::uint8_t type = 0;
  if (!r.u8(type)) return malformed("empty");
  auto finish = [&](LinkMessage m) -> Result<LinkMessage> {
    if (r.remaining() != 0) return malformed("trailing bytes");
    return m;
  };
  switch (static_cast<LinkType>(type)) {
    case LinkType::hello: {
      HelloMsg h;
      std::uint8_t name_len = 0;
      if (!r.u8(h.version)) return malformed("truncated hello");
      if (h.version != kLinkProtocolVersion) {
        return make_error(Errc::unsupported,
                          "link protocol version " + std::to_string(h.version) + " not supported");
      }
      std::span<const std::uint8_t> name;
      if (!r.u8(name_len) || !r.raw(name_len, name)) return malformed("truncated hello");
      h.name.assign(name.begin(), name.end());
      if (!valid_name(h.name)) return malformed("bad name in hello");
      auto vv = read_vv(r);
      if (!vv) return vv.error();
      h.vv = std::move(*vv);
      return finish(std::move(h));
    }
    case LinkType::vv: {
      auto vv = read_vv(r);
      if (!vv) return vv.error();
      return finish(VvMsg{std::move(*vv)});
    }
    case LinkType::events: {
      std::uint16_t n = 0;
      if (!r.u16(n)) return malformed("truncated events");
      if (n == 0) return malformed("empty events");
      // Each event takes at least 4 + kMinEventSize bytes: refuse impossible counts up front.
      if (n > r.remaining() / (4 + kMinEventSize)) return malformed("event count too large");
      EventsMsg m;
      m.events.reserve(n);
      for (std::uint16_t i = 0; i < n; ++i) {
        std::uint32_t len = 0;
        std::span<const std::uint8_t> bytes;
        if (!r.u32(len)) return malformed("truncated events");
        if (!valid_event_size(len)) return malformed("event length out of range");
        if (!r.raw(len, bytes)) return malformed("truncated events");
        m.events.emplace_back(bytes.begin(), bytes.end());
      }
      return finish(std::move(m));
    }
    case LinkType::live: {
      if (!valid_event_size(r.remaining())) return malformed("live event length out of range");
      std::span<const std::uint8_t> bytes;
      (void)r.raw(r.remaining(), bytes);
      return finish(LiveMsg{Bytes(bytes.begin(), bytes.end())});
    }
    case LinkType::want: {
      WantMsg w;
      std::span<const std::uint8_t> key;
      if (!r.raw(32, key) || !r.u64(w.from_seq)) return malformed("truncated want");
      std::copy(key.begin(), key.end(), w.origin.bytes.begin());
      if (w.from_seq == 0) return malformed("want from seq 0");
      return finish(w);
    }
  }
  return malformed("unknown type " + std::to_string(type));
}

bool EventsBatcher::add(const Event& event) {
  Bytes e = encode(event);
  if (e.empty()) return false;
  return add_encoded(std::move(e));
}

bool EventsBatcher::add_encoded(Bytes encoded) {
  if (!msg_.events.empty() &&
      (bytes_ + 4 + encoded.size() > kLinkBatchBytes || msg_.events.size() >= 0xffff)) {
    return false;
  }
  bytes_ += 4 + encoded.size();
  msg_.events.push_back(std::move(encoded));
  return true;
}

std::string EventsBatcher::flush() {
  if (msg_.events.empty()) return {};
  std::string out = encode_link(msg_);
  msg_.events.clear();
  bytes_ = 0;
  return out;
}

}  // namespace mesh::gossip
