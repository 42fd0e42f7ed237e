// The beacon wire format: fixed size, fixed layout, signed with a domain prefix.
#include <algorithm>
#include <array>
#include <cstring>

#include "mesh/discovery/discovery.hpp"

namespace mesh::discovery {
namespace {

constexpr std::array<std::uint8_t, 4> kMagic{'m', 's', 'h', 'b'};
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kSignedSize = kBeaconSize - 64;
// The prefix keeps a beacon signature from being valid as any other mesh signature.
constexpr char kDomain[] = "mesh-beacon-v1";  // sizeof includes the terminating NUL

void put_be(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint64_t get_be(std::span<const std::uint8_t> in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | in[at + i];
  return v;
}

Bytes signed_part(const Beacon& b) {
  Bytes out;
  out.reserve(kBeaconSize);
  out.insert(out.end(), kMagic.begin(), kMagic.end());
  out.push_back(kVersion);
  out.insert(out.end(), b.key.bytes.begin(), b.key.bytes.end());
  put_be(out, b.port, 2);
  put_be(out, b.instance, 8);
  put_be(out, b.wall_ms, 8);
  return out;
}

Bytes signing_input(const Beacon& b) {
  Bytes msg(kDomain, kDomain + sizeof(kDomain));
  auto body = signed_part(b);
  msg.insert(msg.end(), body.begin(), body.end());
  return msg;
}

}  // namespace

Bytes encode_beacon(const Beacon& beacon) {
  auto out = signed_part(beacon);
  out.insert(out.end(), beacon.sig.begin(), beacon.sig.end());
  return out;
}

Result<Beacon> decode_beacon(std::span<const std::uint8_t> data) {
  if (data.size() != kBeaconSize)
    return make_error(Errc::invalid, "beacon: expected " + std::to_string(kBeaconSize) +
                                         " bytes, got " + std::to_string(data.size()));
  if (!std::equal(kMagic.begin(), kMagic.end(), data.begin()))
    return make_error(Errc::invalid, "beacon: bad magic");
  if (data[4] != kVersion)
    return make_error(Errc::unsupported, "beacon: unknown version " + std::to_string(data[4]));
  Beacon b;
  std::memcpy(b.key.bytes.data(), data.data() + 5, 32);
  b.port = static_cast<std::uint16_t>(get_be(data, 37, 2));
  b.instance = get_be(data, 39, 8);
  b.wall_ms = get_be(data, 47, 8);
  std::memcpy(b.sig.data(), data.data() + kSignedSize, 64);
  if (b.port == 0) return make_error(Errc::invalid, "beacon: port 0");
  return b;
}

Beacon make_beacon(const identity::Identity& id, std::uint16_t port, std::uint64_t instance,
                   std::uint64_t wall_ms) {
  Beacon b;
  b.key = id.public_key();
  b.port = port;
  b.instance = instance;
  b.wall_ms = wall_ms;
  b.sig = id.sign(signing_input(b));
  return b;
}

bool verify_beacon(const Beacon& beacon, std::uint64_t now_ms) {
  auto skew = now_ms > beacon.wall_ms ? now_ms - beacon.wall_ms : beacon.wall_ms - now_ms;
  if (skew > kMaxSkewMs) return false;
  return beacon.key.verify(signing_input(beacon), beacon.sig);
}

}  // namespace mesh::discovery
