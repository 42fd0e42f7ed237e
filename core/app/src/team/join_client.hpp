// The joiner's side of the join handshake: POSTs the signed request to each address in the
// token in turn (TLS pinned to the inviter's key from the token), then admits the inviter in
// this node's own feed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "join_ledger.hpp"
#include "mesh/base/result.hpp"
#include "mesh/gossip/engine.hpp"
#include "mesh/gossip/token.hpp"
#include "mesh/identity/identity.hpp"

namespace boost::asio {
class io_context;
}

namespace mesh::app::team {

struct JoinClientContext {
  boost::asio::io_context* io = nullptr;
  const identity::Identity* self = nullptr;
  gossip::Engine* engine = nullptr;
  JoinLedger* ledger = nullptr;           // may be null
  std::function<std::uint64_t()> now_ms;  // wall clock (unix ms)
  // A token address kept as a node-local dialling hint for the inviter (may be empty).
  std::function<void(const identity::PublicKey&, const std::string&)> add_hint;
  std::function<void()> joined;  // after the inviter was admitted (may be empty)
};

struct JoinOutcome {
  std::string inviter_name;
  std::string inviter_id;
  std::string code;
  std::size_t members = 0;            // the roster size the inviter answered
  std::vector<std::string> warnings;  // e.g. another member already carries this name
};

// Joins the mesh of token's inviter as `name`, announcing `addresses`. `done` runs once, on an
// I/O thread: Errc::io "could not reach the inviter" with each address's reason, Errc::denied
// "the inviter refused the join: …" (no other address is tried then), or the outcome.
void join_inviter(JoinClientContext ctx, gossip::Token token, std::string name,
                  std::vector<std::string> addresses,
                  std::function<void(Result<JoinOutcome>)> done);

}  // namespace mesh::app::team
