// The team verbs (invite, invite-wait, join, peers, remove-peer, add-address) and the join
// route, composed from the parts in team/: invite_book (secrets), join_server (the inviter's
// side), join_client (the joiner's side), addresses (what this node announces, and the
// configured ones), member_match (NAME|ID), join_ledger (who joined when).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "mesh/control/control.hpp"
#include "mesh/gossip/engine.hpp"
#include "mesh/http/router.hpp"
#include "mesh/identity/identity.hpp"
#include "mesh/links/link_manager.hpp"

namespace boost::asio {
class io_context;
}

namespace mesh::app {

struct TeamContext {
  std::filesystem::path root;
  const identity::Identity* self = nullptr;
  identity::TlsMaterial tls;
  gossip::Engine* engine = nullptr;
  boost::asio::io_context* io = nullptr;
  std::function<std::string()> node_name;
  std::string listen;                     // the bound "host:port"
  std::vector<std::string> advertise;     // [http] advertise: overrides the derived addresses
  std::string host_scope;                 // team::host_scope(): announced with the addresses
  std::function<std::uint64_t()> now_ms;  // wall clock (unix ms); empty: the system clock
};

class Team {
 public:
  explicit Team(TeamContext context);
  ~Team();
  void set_links(links::LinkManager* links);
  void register_verbs(control::Registry& verbs);
  void register_routes(http::Router& router);

  // Node-local addresses configured with `mesh add-address` (never overwritten by gossip).
  std::vector<std::string> configured_addresses(const identity::PublicKey& key) const;
  // The addresses teammates can reach this node at (interfaces + port, or the loopback listen).
  std::vector<std::string> own_addresses() const;
  // Publishes this node's addresses if the roster does not already carry them.
  void announce_addresses();
  boost::json::array peers_json() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mesh::app
