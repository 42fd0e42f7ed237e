// Keeps one persistent link to every roster member (ARCHITECTURE.md §4 "Peer links"): dials
// members it has no link to, with jittered backoff, over every known address (last good
// first); accepts inbound links; keeps exactly one link per pair; closes links of removed
// members; and hands every link to the gossip engine.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mesh/gossip/engine.hpp"
#include "mesh/http/websocket.hpp"
#include "mesh/identity/identity.hpp"

namespace boost::asio {
class io_context;
}

namespace mesh::links {

struct LinkInfo {
  identity::PublicKey peer;
  std::string remote;
  bool outbound = false;
};

struct LinkManagerOptions {
  identity::TlsMaterial tls;  // our certificate for dialling
  identity::PublicKey self;
  // Extra addresses for a member beyond its roster addresses: configured ones (mesh
  // add-address) first. Called on the manager's strand.
  std::function<std::vector<std::string>(const identity::PublicKey&)> configured_addresses;
  // This node's host tag: a member's announced loopback addresses are dialled only when its
  // tag matches (gossip::address_usable).
  std::string host_scope;
  std::chrono::milliseconds tick{1'000};
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{30'000};
};

class LinkManager {
 public:
  static std::unique_ptr<LinkManager> create(boost::asio::io_context& io, gossip::Engine& engine,
                                             LinkManagerOptions options);
  virtual ~LinkManager() = default;
  virtual void start() = 0;
  // An authenticated inbound link (from the websocket route).
  virtual void accept(std::shared_ptr<http::WsConnection> link) = 0;
  // An observed address for a key (LAN discovery); used after configured and roster addresses,
  // never replacing them.
  virtual void add_hint(const identity::PublicKey& key, const std::string& address) = 0;
  // Re-evaluates the roster now: dial new members, close links to removed ones.
  virtual void refresh() = 0;
  virtual std::vector<LinkInfo> links() const = 0;
  virtual void stop() = 0;
};

}  // namespace mesh::links
