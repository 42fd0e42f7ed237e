// Address selection for the team: where teammates can reach this node (what invites and the
// roster announce), and the node-local addresses configured with `mesh add-address`.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "mesh/base/result.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::app::team {

struct InterfaceAddress {
  std::string ip;  // numeric, without brackets
  bool v6 = false;
  bool up = false;
  bool loopback = false;
  bool link_local = false;  // IPv6 fe80::/10: needs a scope id, useless to teammates
};

// The machine's interface addresses (getifaddrs).
std::vector<InterfaceAddress> interface_addresses();

// A tag (32 hex) for the host and network namespace this process runs in: a keyed BLAKE2b of
// the machine id (/etc/machine-id, else the boot id) and the network namespace's inode. Two
// daemons see each other's loopback addresses as their own exactly when their tags match, so
// the roster carries it with the addresses (gossip::address_usable). "" if neither id exists.
std::string host_scope();

// "host:port", with brackets for an IPv6 host.
std::string format_address(const std::string& host, std::uint16_t port);

// The addresses teammates can reach this node at, at most gossip::kMaxTokenAddresses:
// `advertise` when set; the listen address itself when it is a loopback or a specific address;
// for a wildcard listen every up, non-loopback interface address with the bound port (IPv6
// ones only for "::", never link-local), or 127.0.0.1 when there is none.
std::vector<std::string> own_addresses(const std::string& listen,
                                       const std::vector<std::string>& advertise,
                                       const std::vector<InterfaceAddress>& interfaces);

// <root>/addresses.json: member id -> addresses added with `mesh add-address`. Read once, then
// kept in memory (the link manager asks on every dial round) and written through. Thread-safe.
class AddressBook {
 public:
  explicit AddressBook(std::filesystem::path file);
  std::vector<std::string> get(const identity::PublicKey& key) const;
  // Adds address for key (no duplicates); Errc::limit past gossip::kMaxTokenAddresses,
  // Errc::io if the file cannot be written (then nothing changes).
  Status add(const identity::PublicKey& key, const std::string& address);

 private:
  std::filesystem::path file_;
  mutable std::mutex mu_;
  boost::json::object book_;
};

}  // namespace mesh::app::team
