#include "team.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "mesh/config/config.hpp"
#include "mesh/gossip/token.hpp"
#include "team/addresses.hpp"
#include "team/invite_book.hpp"
#include "team/join_client.hpp"
#include "team/join_ledger.hpp"
#include "team/join_server.hpp"
#include "team/member_match.hpp"

namespace mesh::app {
namespace json = boost::json;
namespace asio = boost::asio;
using identity::PublicKey;

namespace {

// How often a waiting `mesh invite --wait` checks that its client is still there.
constexpr auto kWaitPoll = std::chrono::seconds(2);

std::uint64_t system_now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

control::Reply fail(std::string message) {
  return {1, std::move(message)};
}
control::Reply usage(std::string message) {
  return {2, std::move(message)};
}
control::Reply ok(const json::value& v) {
  return {0, json::serialize(v)};
}

json::object use_json(const team::InviteUse& use) {
  return json::object{{"name", use.name},
                      {"id", use.id},
                      {"code", use.code},
                      {"at_ms", static_cast<std::int64_t>(use.at_ms)}};
}

}  // namespace

struct Team::Impl {
  TeamContext ctx;
  links::LinkManager* links = nullptr;
  team::InviteBook invites;
  team::AddressBook addresses;
  team::JoinLedger ledger;
  team::JoinServer server;

  explicit Impl(TeamContext c)
      : ctx(std::move(c)),
        invites(ctx.root / "invites.json", ctx.now_ms),
        addresses(ctx.root / "addresses.json"),
        ledger(ctx.root / "joins.json"),
        server(team::JoinServerContext{ctx.self, ctx.engine, &invites, &ledger, ctx.node_name,
                                       ctx.now_ms, [this] {
                                         if (links) links->refresh();
                                       }}) {}

  std::vector<std::string> own_addresses() const {
    return team::own_addresses(ctx.listen, ctx.advertise, team::interface_addresses());
  }

  control::Reply invite(const std::vector<std::string>& args) {
    // args: TTL_SECONDS [ADDR...]
    if (args.empty()) return usage("invite: missing ttl");
    std::uint64_t ttl = 0;
    try {
      ttl = std::stoull(args[0]);
    } catch (...) {
      return usage("invite: --ttl must be a duration such as 10m");
    }
    if (ttl == 0 || ttl > team::kMaxInviteTtlSeconds) {
      return usage("invite: --ttl must be between 1s and 7d");
    }
    std::vector<std::string> addrs(args.begin() + 1, args.end());
    for (const auto& a : addrs) {
      if (!gossip::valid_address(a) || !config::parse_host_port(a)) {
        return usage("invite: --addr " + a + " is not HOST:PORT");
      }
    }
    if (addrs.empty()) addrs = own_addresses();
    auto issued = invites.issue(*ctx.self, ctx.node_name(), std::move(addrs), ttl);
    if (!issued) return fail(issued.error().message);
    spdlog::info("team: invite issued, expires at {} (unix), addresses {}", issued->expires_at,
                 fmt::join(issued->addresses, ", "));
    json::array jaddrs;
    for (const auto& a : issued->addresses) jaddrs.emplace_back(a);
    return ok(json::object{{"token", issued->token},
                           {"expires_at", static_cast<std::int64_t>(issued->expires_at)},
                           {"expires_ms", static_cast<std::int64_t>(issued->expires_at * 1000)},
                           {"addresses", jaddrs}});
  }

  // Blocks until the invite of TOKEN is used (answers who joined) or expires (exit 1).
  void invite_wait(const std::vector<std::string>& args, control::Responder r) {
    if (args.size() != 1) return r.reply(usage("usage: mesh invite-wait TOKEN"));
    // An expired token still names its invite: parse it as of time 0, check the expiry below.
    auto token = gossip::parse_token(args[0], 0);
    if (!token) return r.reply(usage(token.error().message));
    if (token->inviter != ctx.self->public_key()) {
      return r.reply(fail("this invite was not made by this node"));
    }
    auto st = invites.state(token->secret);
    if (st.kind == team::InviteState::Kind::unknown) {
      return r.reply(fail("unknown invite (not issued by this node, or expired and forgotten)"));
    }
    auto answered = std::make_shared<std::atomic<bool>>(false);
    auto id = invites.wait(token->secret, [r, answered](const team::InviteUse& use) {
      if (answered->exchange(true)) return;
      r.reply(ok(json::object{{"joined", use_json(use)}}));
    });
    if (id == 0) return r.reply(fail("too many `mesh invite --wait` calls waiting already"));
    if (answered->load()) return;
    auto timer = std::make_shared<asio::steady_timer>(*ctx.io);
    watch_wait(timer, id, token->expires_at, r, answered);
  }

  void watch_wait(std::shared_ptr<asio::steady_timer> timer, team::InviteBook::WaitId id,
                  std::uint64_t expires_at, control::Responder r,
                  std::shared_ptr<std::atomic<bool>> answered) {
    std::uint64_t now = ctx.now_ms();
    if (answered->load()) return;
    if (now >= expires_at * 1000 || !r.connected()) {
      invites.cancel(id);
      if (!answered->exchange(true)) {
        r.reply(fail("the invite expired without being used (at " + std::to_string(expires_at) +
                     ", unix seconds)"));
      }
      return;
    }
    auto left = std::chrono::milliseconds(expires_at * 1000 - now);
    timer->expires_after(std::min<std::chrono::milliseconds>(left, kWaitPoll));
    timer->async_wait([this, timer, id, expires_at, r, answered](boost::system::error_code ec) {
      if (ec) return;
      watch_wait(timer, id, expires_at, r, answered);
    });
  }

  void join(const std::vector<std::string>& args, control::Responder r) {
    if (args.empty() || args.size() > 2) {
      return r.reply(usage("usage: mesh join TOKEN [--name NAME]"));
    }
    auto token = gossip::parse_token(args[0], ctx.now_ms() / 1000);
    if (!token) return r.reply(fail(token.error().message));
    if (token->inviter == ctx.self->public_key()) {
      return r.reply(fail("this invite was made by this node; run mesh join on the new node"));
    }
    std::string name = args.size() > 1 && !args[1].empty() ? args[1] : ctx.node_name();
    if (!gossip::valid_node_name(name)) return r.reply(usage("invalid node name"));
    team::JoinClientContext jc;
    jc.io = ctx.io;
    jc.self = ctx.self;
    jc.engine = ctx.engine;
    jc.ledger = &ledger;
    jc.now_ms = ctx.now_ms;
    jc.add_hint = [this](const PublicKey& k, const std::string& a) {
      if (links) links->add_hint(k, a);
    };
    jc.joined = [this] {
      if (links) links->refresh();
    };
    team::join_inviter(
        std::move(jc), std::move(*token), name, own_addresses(),
        [r](Result<team::JoinOutcome> out) {
          if (!out) return r.reply(fail(out.error().message));
          json::array warnings;
          for (const auto& w : out->warnings) warnings.emplace_back(w);
          r.reply(ok(json::object{
              {"inviter", json::object{{"name", out->inviter_name}, {"id", out->inviter_id}}},
              {"code", out->code},
              {"members", out->members},
              {"warnings", warnings}}));
        });
  }

  // NAME|ID -> one member, or the reply that explains why not.
  std::optional<gossip::Member> resolve(const std::string& ref, control::Reply* why) const {
    auto match = team::match_member(ctx.engine->roster().members(), ref);
    if (match.found()) return match.members.front();
    *why = fail(team::describe_miss(match, ref));
    return std::nullopt;
  }

  control::Reply remove_peer(const std::vector<std::string>& args) {
    if (args.size() != 1) return usage("usage: mesh remove-peer NAME|ID");
    control::Reply why;
    auto m = resolve(args[0], &why);
    if (!m) return why;
    if (m->key == ctx.self->public_key()) return fail("a node cannot remove itself");
    gossip::RosterOp op;
    op.kind = gossip::RosterOp::Kind::remove;
    op.key = m->key;
    auto ev = ctx.engine->publish(gossip::kRosterTopic, gossip::encode_roster_op(op));
    if (!ev) return fail(ev.error().message);
    spdlog::info("team: removed {} ({}) from the mesh", m->name, m->key.id());
    if (links) links->refresh();
    return ok(json::object{{"removed", m->key.id()}, {"name", m->name}});
  }

  control::Reply add_address(const std::vector<std::string>& args) {
    if (args.size() != 2) return usage("usage: mesh add-address NAME|ID HOST:PORT");
    if (!gossip::valid_address(args[1]) || !config::parse_host_port(args[1])) {
      return usage(args[1] + " is not HOST:PORT");
    }
    control::Reply why;
    auto m = resolve(args[0], &why);
    if (!m) return why;
    if (auto st = addresses.add(m->key, args[1]); !st) return fail(st.error().message);
    if (links) links->refresh();
    return ok(json::object{{"ok", true}, {"id", m->key.id()}});
  }
};

Team::Team(TeamContext context) {
  if (!context.now_ms) context.now_ms = system_now_ms;
  impl_ = std::make_unique<Impl>(std::move(context));
}
Team::~Team() = default;

void Team::set_links(links::LinkManager* l) {
  impl_->links = l;
}

std::vector<std::string> Team::configured_addresses(const PublicKey& key) const {
  return impl_->addresses.get(key);
}

std::vector<std::string> Team::own_addresses() const {
  return impl_->own_addresses();
}

void Team::announce_addresses() {
  auto mine = own_addresses();
  auto me = impl_->ctx.engine->roster().find(impl_->ctx.self->public_key());
  if (me && me->addresses == mine && me->host == impl_->ctx.host_scope) return;
  gossip::RosterOp op;
  op.kind = gossip::RosterOp::Kind::addresses;
  op.key = impl_->ctx.self->public_key();
  op.addresses = mine;
  op.host = impl_->ctx.host_scope;
  if (auto ev = impl_->ctx.engine->publish(gossip::kRosterTopic, gossip::encode_roster_op(op));
      !ev) {
    spdlog::warn("team: cannot announce this node's addresses: {}", ev.error().message);
  }
}

json::array Team::peers_json() const {
  auto members = impl_->ctx.engine->roster().members();
  for (auto& m : members) {
    // This node's own entry may carry no name until a teammate admitted it.
    if (m.key == impl_->ctx.self->public_key()) m.name = impl_->ctx.node_name();
  }
  auto shared = team::shared_names(members);
  json::array out;
  for (const auto& p : impl_->ctx.engine->peers()) {
    json::array addrs;
    // Its loopback addresses only if it runs on this host and in this network namespace.
    for (const auto& a : p.member.addresses) {
      if (gossip::address_usable(p.member, a, impl_->ctx.host_scope)) addrs.emplace_back(a);
    }
    for (const auto& a : configured_addresses(p.member.key)) addrs.emplace_back(a);
    json::object peer{{"name", p.member.name},
                      {"id", p.member.key.id()},
                      {"state", p.up ? "up" : "down"},
                      {"addresses", addrs},
                      {"last_seen_ms", static_cast<std::int64_t>(p.last_seen_ms)}};
    // How this node reaches it: over a link of its own, only through a relay (heard from, but
    // not linked), or not at all; and since when, where that is known.
    auto [reach, since] = p.linked ? std::pair{"direct", p.linked_since_ms}
                          : p.up   ? std::pair{"relay", p.unlinked_since_ms}
                                   : std::pair{"none", p.last_seen_ms};
    peer["reach"] = reach;
    if (since > 0) peer["reach_since_ms"] = static_cast<std::int64_t>(since);
    if (std::find(shared.begin(), shared.end(), p.member.name) != shared.end()) {
      peer["name_shared"] = true;
    }
    if (auto rec = impl_->ledger.find(p.member.key.id())) {
      peer["joined"] = json::object{
          {"at_ms", static_cast<std::int64_t>(rec->at_ms)}, {"via", rec->via}, {"code", rec->code}};
    }
    // What its last heartbeat said: load, capabilities (running plugins) and plugin values.
    boost::system::error_code ec;
    auto beat = p.heartbeat.empty() ? json::value() : json::parse(p.heartbeat, ec);
    if (!ec && beat.is_object()) {
      if (auto* load = beat.as_object().if_contains("load"); load && load->is_number()) {
        peer["load"] = *load;
      }
      if (auto* caps = beat.as_object().if_contains("capabilities"); caps && caps->is_array()) {
        peer["capabilities"] = *caps;
      }
      // Plugin id -> what that plugin set with heartbeat_set (ABI 1.2).
      if (auto* plugins = beat.as_object().if_contains("plugins");
          plugins && plugins->is_object()) {
        peer["plugins"] = *plugins;
      }
    }
    out.push_back(std::move(peer));
  }
  return out;
}

void Team::register_verbs(control::Registry& verbs) {
  auto* impl = impl_.get();
  verbs.add({"invite", "print a one-time token for a new teammate", "core"},
            [impl](control::Call&& c, control::Responder r) { r.reply(impl->invite(c.args)); });
  verbs.add(
      {"invite-wait", "wait until an invite is used (mesh invite --wait)", "core"},
      [impl](control::Call&& c, control::Responder r) { impl->invite_wait(c.args, std::move(r)); });
  verbs.add({"join", "join a mesh with a token from mesh invite", "core"},
            [impl](control::Call&& c, control::Responder r) { impl->join(c.args, std::move(r)); });
  verbs.add({"peers", "list the other members", "core"},
            [this](control::Call&&, control::Responder r) { r.reply(ok(peers_json())); });
  verbs.add(
      {"remove-peer", "remove a member from the whole mesh", "core"},
      [impl](control::Call&& c, control::Responder r) { r.reply(impl->remove_peer(c.args)); });
  verbs.add(
      {"add-address", "add a configured address for a member", "core"},
      [impl](control::Call&& c, control::Responder r) { r.reply(impl->add_address(c.args)); });
}

void Team::register_routes(http::Router& router) {
  impl_->server.register_route(router);
}

}  // namespace mesh::app
