// LAN discovery, Syncthing style: every node sends a small signed UDP beacon every interval by
// IPv4 broadcast and by IPv4/IPv6 multicast. A beacon is only a hint: a receiver reports the
// signer's key, the *observed* source IP with the *announced* TCP port, and the instance id.
// Authentication still happens when connecting; nothing else in a beacon is trusted.
//
// Wire format (version 1), exactly 119 bytes, integers big-endian:
//   "mshb" | 0x01 | key[32] | tcp_port u16 | instance u64 | wall_ms u64 | sig[64]
// sig = ed25519 over "mesh-beacon-v1\0" followed by the 55 bytes before sig.
//
// Defaults: UDP port 7978 (7979 is the TCP listener; a distinct number keeps a future UDP
// transport free), IPv4 group 239.255.42.42 (organisation-local scope), IPv6 group
// ff12::6d65:7368 (transient, link-local scope; 6d65:7368 is "mesh" in ASCII), IPv4 limited
// broadcast 255.255.255.255.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mesh/base/encoding.hpp"
#include "mesh/base/result.hpp"
#include "mesh/identity/identity.hpp"

namespace boost::asio {
class io_context;
}

namespace mesh::discovery {

inline constexpr std::uint16_t kDefaultUdpPort = 7978;
inline constexpr const char* kMulticastGroupV4 = "239.255.42.42";
inline constexpr const char* kMulticastGroupV6 = "ff12::6d65:7368";
inline constexpr std::size_t kBeaconSize = 119;
// Datagrams larger than this are dropped unread (room for a future, longer version).
inline constexpr std::size_t kMaxDatagram = 512;
// Beacons whose wall time differs from ours by more than this are dropped.
inline constexpr std::uint64_t kMaxSkewMs = 10 * 60 * 1000;

struct Beacon {
  identity::PublicKey key;
  std::uint16_t port = 0;  // the sender's TCP listen port
  std::uint64_t instance = 0;
  std::uint64_t wall_ms = 0;
  identity::Signature sig{};
};

Bytes encode_beacon(const Beacon& beacon);
// Strict: exactly kBeaconSize bytes, right magic and version, port != 0. Does not verify.
Result<Beacon> decode_beacon(std::span<const std::uint8_t> data);
Beacon make_beacon(const identity::Identity& id, std::uint16_t port, std::uint64_t instance,
                   std::uint64_t wall_ms);
// The signature is valid and wall_ms is within kMaxSkewMs of now_ms (either direction).
bool verify_beacon(const Beacon& beacon, std::uint64_t now_ms);

struct Sighting {
  identity::PublicKey key;
  std::string address;  // observed source IP + announced port: "ip:port" or "[v6]:port"
  std::uint64_t instance = 0;
  std::uint64_t seen_ms = 0;  // wall time of receipt
};

struct Options {
  std::uint16_t udp_port = kDefaultUdpPort;
  std::chrono::milliseconds interval{30000};
  // Destination addresses (no port; udp_port is used). Empty means the defaults:
  // 255.255.255.255, kMulticastGroupV4, kMulticastGroupV6. Tests pass loopback targets such as
  // {"239.255.42.42", "127.255.255.255"}.
  std::vector<std::string> targets;
  bool loopback = true;  // IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP: other daemons on this host
  // IPv4 address of the interface to send multicast on and join the group on (e.g.
  // "127.0.0.1" for tests). Empty: join on every up, multicast-capable interface and send by
  // the routing table.
  std::string multicast_if;
  // The same for IPv6, by interface name (e.g. "eth0"). Empty: as above.
  std::string multicast_if6;
  // The TCP listener's bound address ("127.0.0.1:7979", "0.0.0.0:7979", "[::]:7979"): beacons
  // then leave only from addresses it covers (see send_plan.hpp). Empty: no restriction.
  std::string listen;
};

// Sockets: one IPv4 socket on 0.0.0.0:udp_port and one IPv6 (v6-only) on [::]:udp_port, both
// SO_REUSEADDR so several daemons on one host share the port; Linux delivers every broadcast
// and multicast datagram to all of them (unicast would reach only one: do not rely on it).
// Measured on Linux 6.x: SO_REUSEPORT would fan out broadcast/multicast just the same, but it
// only shares a port between sockets of one uid and adds nothing here, so it is not set.
// Failure to set up one family is logged; start fails only if neither family works or no
// target can be sent from an open socket.
//
// Threading: socket work runs on a strand of the io_context; announce_now(), nearby() and
// stop() may be called from any thread. on_sighting runs on the io thread, once per new
// verified beacon (duplicates arriving by several paths and replays are dropped); it never
// runs after stop() returns on the io thread, but stop() from another thread may race with one
// already in progress, so drain the io_context before destroying what it uses. The identity
// must outlive the Discovery object and any still-queued handler: stop it on the io thread, or
// stop the io_context, before destroying the identity.
class Discovery {
 public:
  static Result<std::unique_ptr<Discovery>> start(boost::asio::io_context& io,
                                                  const identity::Identity& id,
                                                  std::uint16_t tcp_port, Options options,
                                                  std::function<void(const Sighting&)> on_sighting);
  virtual ~Discovery() = default;
  // Sends a beacon now (one is also sent at start, then every interval).
  virtual void announce_now() = 0;
  // Recent sightings, newest first: at most 256 keys, each expiring 3 intervals after it was
  // last heard.
  virtual std::vector<Sighting> nearby() const = 0;
  // Closes the sockets and cancels the timer. Idempotent; the destructor calls it.
  virtual void stop() = 0;
};

}  // namespace mesh::discovery
