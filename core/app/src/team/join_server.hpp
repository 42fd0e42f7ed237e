// The inviter's side of the join handshake: POST /mesh/join (docs/protocol.md "Join
// handshake"). Checks the request, burns the invite, admits the joiner and answers the roster.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "invite_book.hpp"
#include "join_ledger.hpp"
#include "mesh/gossip/engine.hpp"
#include "mesh/http/router.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::app::team {

struct JoinServerContext {
  const identity::Identity* self = nullptr;
  gossip::Engine* engine = nullptr;
  InviteBook* invites = nullptr;
  JoinLedger* ledger = nullptr;
  std::function<std::string()> node_name;
  std::function<std::uint64_t()> now_ms;  // wall clock (unix ms)
  std::function<void()> admitted;         // after an admission, e.g. dial the newcomer
};

class JoinServer {
 public:
  explicit JoinServer(JoinServerContext ctx) : ctx_(std::move(ctx)) {}

  // One join request body -> 200 {"inviter","code","members","warnings"}, or 4xx/5xx
  // {"error"}. A request refused before the burn changes nothing.
  http::Response answer(std::string_view body);

  // POST /mesh/join: Access::open (the joiner is no member yet; the token's secret is the
  // proof), body at most kMaxJoinBody. The object must outlive the route.
  void register_route(http::Router& router);

 private:
  JoinServerContext ctx_;
};

}  // namespace mesh::app::team
