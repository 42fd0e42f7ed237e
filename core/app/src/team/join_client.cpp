#include "join_client.hpp"

#include <memory>

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "join_proof.hpp"
#include "mesh/config/config.hpp"
#include "mesh/http/websocket.hpp"

namespace mesh::app::team {
namespace json = boost::json;

namespace {

struct Attempt {
  JoinClientContext ctx;
  gossip::Token token;
  std::string name;
  std::string body;
  std::function<void(Result<JoinOutcome>)> done;
  std::vector<std::string> errors;
};

std::string string_field(const json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const auto* p = v.as_object().if_contains(key);
  return p && p->is_string() ? std::string(p->as_string()) : std::string();
}

void finish(const std::shared_ptr<Attempt>& st, const json::value& doc) {
  auto& ctx = st->ctx;
  // Admit the inviter in our own feed: from here on its events (and, through its admits,
  // every other member's) are accepted, and the whole team learns of us by gossip.
  gossip::RosterOp op;
  op.kind = gossip::RosterOp::Kind::admit;
  op.key = st->token.inviter;
  op.name = st->token.name;
  // The token's addresses are a node-local hint: what the inviter announces about itself is
  // what the team dials (it may advertise a different address than the one used here).
  if (ctx.add_hint) {
    for (const auto& a : st->token.addresses) ctx.add_hint(st->token.inviter, a);
  }
  auto ev = ctx.engine->publish(gossip::kRosterTopic, gossip::encode_roster_op(op));
  if (!ev) {
    return st->done(make_error(Errc::io, "cannot record the inviter: " + ev.error().message));
  }
  JoinOutcome out;
  out.inviter_name = st->token.name;
  out.inviter_id = st->token.inviter.id();
  out.code = gossip::confirmation_code(st->token.inviter, ctx.self->public_key(), st->token.secret);
  if (doc.is_object()) {
    const auto& o = doc.as_object();
    if (const auto* m = o.if_contains("members"); m && m->is_array()) {
      out.members = m->as_array().size();
      for (const auto& member : m->as_array()) {
        std::string id = string_field(member, "id");
        // The inviter's own entry may have no name yet: the token carries it.
        std::string name = id == out.inviter_id ? st->token.name : string_field(member, "name");
        if (name == st->name && id != ctx.self->id()) {
          out.warnings.push_back("another member is already named '" + st->name + "' (" + id +
                                 "); use an id prefix to tell them apart");
        }
      }
    }
    // The inviter's own warnings say the same from its side; keep ours when both exist.
    if (out.warnings.empty()) {
      if (const auto* w = o.if_contains("warnings"); w && w->is_array()) {
        for (const auto& x : w->as_array()) {
          if (x.is_string() && out.warnings.size() < 16) {
            out.warnings.emplace_back(std::string(x.as_string()).substr(0, 300));
          }
        }
      }
    }
  }
  spdlog::info("team: joined {}'s mesh ({}); confirmation code {}", out.inviter_name,
               out.inviter_id, out.code);
  for (const auto& w : out.warnings) spdlog::warn("team: {}", w);
  if (ctx.ledger) ctx.ledger->record(out.inviter_id, {ctx.now_ms(), "join", out.code});
  if (ctx.joined) ctx.joined();
  st->done(std::move(out));
}

void try_address(std::shared_ptr<Attempt> st, std::size_t index) {
  if (index >= st->token.addresses.size()) {
    std::string why = "could not reach the inviter";
    for (const auto& e : st->errors) why += "\n  " + e;
    return st->done(make_error(Errc::io, why));
  }
  const std::string& addr = st->token.addresses[index];
  auto hp = config::parse_host_port(addr);
  if (!hp) {
    st->errors.push_back(addr + ": not HOST:PORT");
    return try_address(st, index + 1);
  }
  http::HttpsCall call;
  call.host = hp->host;
  call.port = hp->port;
  call.expected = st->token.inviter;  // pinned from the token: no CA, no trust on first use
  call.path = "/mesh/join";
  call.body = st->body;
  http::https_request(*st->ctx.io, std::move(call), [st, index](Result<http::Response> res) {
    const std::string& addr = st->token.addresses[index];
    if (!res) {
      st->errors.push_back(addr + ": " + res.error().message);
      return try_address(st, index + 1);
    }
    boost::system::error_code ec;
    auto doc = json::parse(res->body, ec);
    if (ec) doc = json::value();
    if (res->status != 200) {
      std::string why = string_field(doc, "error");
      // The inviter answered and refused: trying other addresses would not change that.
      return st->done(make_error(Errc::denied, "the inviter refused the join: " +
                                                   (why.empty() ? res->body.substr(0, 200) : why)));
    }
    finish(st, doc);
  });
}

}  // namespace

void join_inviter(JoinClientContext ctx, gossip::Token token, std::string name,
                  std::vector<std::string> addresses,
                  std::function<void(Result<JoinOutcome>)> done) {
  auto st = std::make_shared<Attempt>();
  st->body = make_join_body(*ctx.self, token, name, addresses);
  st->ctx = std::move(ctx);
  st->token = std::move(token);
  st->name = std::move(name);
  st->done = std::move(done);
  try_address(std::move(st), 0);
}

}  // namespace mesh::app::team
