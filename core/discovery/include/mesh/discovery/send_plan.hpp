// What a node's beacons may claim. A receiver takes the beacon's *source* address as where the
// sender can be reached, so a node sends only from addresses it listens on: a node bound to
// 127.0.0.1 must never be seen at its LAN address, and one bound to IPv4 only never at an IPv6
// one. Pure function, unit-tested; discovery.cpp applies the plan to its sockets.
#pragma once

#include <string>
#include <vector>

#include "mesh/discovery/discovery.hpp"

namespace mesh::discovery {

struct LocalAddress {
  std::string ip;     // numeric
  std::string iface;  // interface name
};

struct SendPlan {
  std::vector<std::string> targets;  // the targets kept, in order
  // Send from a socket bound to this address (so it is the beacons' source); empty: send from
  // the receive sockets, letting the routing table pick the source (wildcard listens).
  std::string bind;
  std::string multicast_if;        // IPv4 multicast interface address (Options::multicast_if)
  std::string multicast_if6;       // IPv6 multicast interface name (Options::multicast_if6)
  std::vector<std::string> notes;  // what was dropped or overridden, and why (for the log)
};

// `listen` is the TCP listener's bound address as the HTTP server reports it ("127.0.0.1:7979",
// "[::]:7979", "0.0.0.0:7979"); empty keeps `options` as they are. Empty targets mean the
// defaults (broadcast, kMulticastGroupV4, kMulticastGroupV6).
//  - 0.0.0.0: IPv4 targets only.
//  - [::] (dual stack): every target.
//  - a specific address A: targets of A's family only, sent from a socket bound to A, with
//    multicast on A's interface (a configured other interface is overridden: its address
//    is not listened on).
SendPlan plan_sending(const std::string& listen, const Options& options,
                      const std::vector<LocalAddress>& addresses);

// The machine's interface addresses (getifaddrs), for plan_sending.
std::vector<LocalAddress> local_addresses();

}  // namespace mesh::discovery
