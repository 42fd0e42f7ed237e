#include "join_server.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "join_proof.hpp"

namespace mesh::app::team {
namespace json = boost::json;

namespace {

http::Response refuse(unsigned status, const std::string& why) {
  spdlog::warn("team: join refused: {}", why);
  return http::Response::json(status, json::serialize(json::object{{"error", why}}));
}

}  // namespace

http::Response JoinServer::answer(std::string_view body) {
  auto req = parse_join_body(body, ctx_.self->public_key());
  if (!req) return refuse(req.error().code == Errc::crypto ? 403 : 400, req.error().message);
  if (ctx_.engine->roster().is_removed(req->joiner)) {
    return refuse(403, "this key was removed from the mesh");
  }
  auto secret = ctx_.invites->burn(ctx_.self->public_key(), req->joiner, req->mac);
  if (!secret) return refuse(403, secret.error().message);

  // Two members with one name can only be told apart by id: say so on both sides.
  json::array warnings;
  for (const auto& m : ctx_.engine->roster().members()) {
    // This node's own entry may carry no name until a teammate admitted it: use ours.
    const std::string name = m.key == ctx_.self->public_key() ? ctx_.node_name() : m.name;
    if (m.key != req->joiner && name == req->name) {
      std::string w = "another member is already named '" + name + "' (" + m.key.id() +
                      "); use an id prefix to tell them apart";
      spdlog::warn("team: {} joins as {}: {}", req->joiner.id(), req->name, w);
      warnings.emplace_back(w);
    }
  }

  gossip::RosterOp op;
  op.kind = gossip::RosterOp::Kind::admit;
  op.key = req->joiner;
  op.name = req->name;
  op.addresses = req->addresses;
  auto ev = ctx_.engine->publish(gossip::kRosterTopic, gossip::encode_roster_op(op));
  if (!ev) return refuse(500, "cannot record the admission: " + ev.error().message);
  std::string code = gossip::confirmation_code(ctx_.self->public_key(), req->joiner, *secret);
  spdlog::info("team: {} ({}) joined the mesh; confirmation code {}", req->name, req->joiner.id(),
               code);
  std::uint64_t now = ctx_.now_ms();
  if (ctx_.ledger) ctx_.ledger->record(req->joiner.id(), {now, "invite", code});
  ctx_.invites->record_use(*secret, {req->joiner.id(), req->name, code, now});
  if (ctx_.admitted) ctx_.admitted();

  json::array members;
  for (const auto& m : ctx_.engine->roster().members()) {
    json::array a;
    for (const auto& x : m.addresses) a.emplace_back(x);
    members.push_back(json::object{{"id", m.key.id()}, {"name", m.name}, {"addresses", a}});
  }
  json::object out{{"inviter", json::object{{"name", ctx_.node_name()}, {"id", ctx_.self->id()}}},
                   {"code", code},
                   {"members", members}};
  if (!warnings.empty()) out["warnings"] = std::move(warnings);
  return http::Response::json(200, json::serialize(out));
}

void JoinServer::register_route(http::Router& router) {
  http::RouteOptions opts;
  opts.access = http::Access::open;
  opts.max_body = kMaxJoinBody;
  router.add("POST", "/mesh/join", opts,
             [this](http::Request&& req, http::Responder respond) { respond(answer(req.body)); });
}

}  // namespace mesh::app::team
