#include "team.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <mutex>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "mesh/base/encoding.hpp"
#include "mesh/base/files.hpp"
#include "mesh/config/config.hpp"
#include "mesh/gossip/token.hpp"
#include "mesh/http/websocket.hpp"

namespace mesh::app {
namespace json = boost::json;
namespace fs = std::filesystem;
using identity::PublicKey;

namespace {

constexpr std::string_view kJoinDomain{"mesh-join-v1\0", 13};
constexpr std::size_t kMaxJoinBody = 16 * 1024;
constexpr std::size_t kMaxStateFile = 1 << 20;
constexpr std::size_t kMaxPendingInvites = 256;
constexpr std::uint64_t kMaxTtlSeconds = 7 * 24 * 3600;

std::uint64_t now_unix() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Proof that the joiner knows the invite secret, bound to both keys.
std::array<std::uint8_t, 32> join_mac(const gossip::TokenSecret& secret, const PublicKey& inviter,
                                      const PublicKey& joiner) {
  Bytes msg(kJoinDomain.begin(), kJoinDomain.end());
  msg.insert(msg.end(), inviter.bytes.begin(), inviter.bytes.end());
  msg.insert(msg.end(), joiner.bytes.begin(), joiner.bytes.end());
  std::array<std::uint8_t, 32> mac{};
  crypto_generichash(mac.data(), mac.size(), msg.data(), msg.size(), secret.data(), secret.size());
  return mac;
}

Bytes join_signing_input(const PublicKey& inviter, const PublicKey& joiner,
                         std::span<const std::uint8_t> mac, std::string_view name,
                         const std::vector<std::string>& addresses) {
  Bytes msg(kJoinDomain.begin(), kJoinDomain.end());
  msg.insert(msg.end(), inviter.bytes.begin(), inviter.bytes.end());
  msg.insert(msg.end(), joiner.bytes.begin(), joiner.bytes.end());
  msg.insert(msg.end(), mac.begin(), mac.end());
  msg.insert(msg.end(), name.begin(), name.end());
  msg.push_back(0);
  for (const auto& a : addresses) {
    msg.insert(msg.end(), a.begin(), a.end());
    msg.push_back('\n');
  }
  return msg;
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string format_address(const std::string& host, std::uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

json::value parse_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value() : v;
}

std::string get_str(const json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const auto* p = v.as_object().if_contains(key);
  return p && p->is_string() ? std::string(p->as_string()) : std::string();
}

std::vector<std::string> get_strings(const json::value& v, std::string_view key, std::size_t max) {
  std::vector<std::string> out;
  if (!v.is_object()) return out;
  const auto* p = v.as_object().if_contains(key);
  if (!p || !p->is_array()) return out;
  for (const auto& e : p->as_array()) {
    if (out.size() >= max) break;
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

control::Reply fail(std::string message) {
  return {1, std::move(message)};
}
control::Reply usage(std::string message) {
  return {2, std::move(message)};
}

}  // namespace

struct Team::Impl {
  TeamContext ctx;
  links::LinkManager* links = nullptr;
  mutable std::mutex mu;  // guards the two state files below and `addresses`
  // addresses.json in memory: the link manager asks for it on every dial round, so it is read
  // once at start and written through on `mesh add-address`.
  json::object addresses;

  fs::path invites_file() const { return ctx.root / "invites.json"; }
  fs::path addresses_file() const { return ctx.root / "addresses.json"; }

  json::object load(const fs::path& file) const {
    auto text = read_file(file, kMaxStateFile);
    if (!text) return {};
    auto v = parse_json(*text);
    return v.is_object() ? v.as_object() : json::object{};
  }

  Status save(const fs::path& file, const json::object& obj) const {
    return write_file_atomic(file, json::serialize(obj));
  }

  // --- invite -----------------------------------------------------------------------------

  control::Reply invite(const std::vector<std::string>& args) {
    // args: TTL_SECONDS [ADDR...]
    if (args.empty()) return usage("invite: missing ttl");
    std::uint64_t ttl = 0;
    try {
      ttl = std::stoull(args[0]);
    } catch (...) {
      return usage("invite: --ttl must be a duration such as 10m");
    }
    if (ttl == 0 || ttl > kMaxTtlSeconds) return usage("invite: --ttl must be between 1s and 7d");
    std::vector<std::string> addrs(args.begin() + 1, args.end());
    for (const auto& a : addrs) {
      if (!gossip::valid_address(a) || !config::parse_host_port(a)) {
        return usage("invite: --addr " + a + " is not HOST:PORT");
      }
    }
    if (addrs.empty()) addrs = own_addresses();
    if (addrs.size() > gossip::kMaxTokenAddresses) addrs.resize(gossip::kMaxTokenAddresses);

    auto secret = gossip::random_secret();
    std::uint64_t expires = now_unix() + ttl;
    auto token = gossip::make_token(*ctx.self, addrs, secret, expires, ctx.node_name());
    if (!token) return fail(token.error().message);
    {
      // Persist before printing: the secret must be known (and later burnt) across restarts.
      std::lock_guard lock(mu);
      auto book = load(invites_file());
      json::array kept;
      if (auto* list = book.if_contains("invites"); list && list->is_array()) {
        for (auto& inv : list->as_array()) {
          if (!inv.is_object()) continue;
          auto* exp = inv.as_object().if_contains("expires_at");
          // Keep used secrets until they expire, so a replay is refused as "already used".
          if (exp && exp->is_int64() && static_cast<std::uint64_t>(exp->as_int64()) > now_unix()) {
            kept.push_back(inv);
          }
        }
      }
      if (kept.size() >= kMaxPendingInvites) {
        return fail("too many open invites (" + std::to_string(kept.size()) +
                    "); wait for some to expire");
      }
      kept.push_back(json::object{{"secret", to_hex(secret)},
                                  {"expires_at", static_cast<std::int64_t>(expires)},
                                  {"used", false}});
      book["invites"] = std::move(kept);
      if (auto st = save(invites_file(), book); !st) return fail(st.error().message);
    }
    spdlog::info("team: invite issued, expires at {} (unix), addresses {}", expires,
                 fmt::join(addrs, ", "));
    json::array jaddrs;
    for (const auto& a : addrs) jaddrs.emplace_back(a);
    return {0, json::serialize(json::object{{"token", *token},
                                            {"expires_at", static_cast<std::int64_t>(expires)},
                                            {"addresses", jaddrs}})};
  }

  // Finds an open invite whose secret produced `mac`, and burns it. Returns the secret.
  Result<gossip::TokenSecret> burn(const PublicKey& joiner, std::span<const std::uint8_t> mac) {
    std::lock_guard lock(mu);
    auto book = load(invites_file());
    auto* list = book.if_contains("invites");
    if (!list || !list->is_array()) return make_error(Errc::denied, "unknown invite");
    for (auto& inv : list->as_array()) {
      if (!inv.is_object()) continue;
      auto& o = inv.as_object();
      auto secret_bytes = from_hex(get_str(o, "secret"));
      if (!secret_bytes || secret_bytes->size() != gossip::kTokenSecretSize) continue;
      gossip::TokenSecret secret{};
      std::copy(secret_bytes->begin(), secret_bytes->end(), secret.begin());
      auto expect = join_mac(secret, ctx.self->public_key(), joiner);
      if (mac.size() != expect.size() ||
          sodium_memcmp(mac.data(), expect.data(), expect.size()) != 0) {
        continue;
      }
      auto* exp = o.if_contains("expires_at");
      if (!exp || !exp->is_int64() || static_cast<std::uint64_t>(exp->as_int64()) <= now_unix()) {
        return make_error(Errc::denied, "the invite has expired; ask for a new one");
      }
      if (auto* used = o.if_contains("used"); used && used->is_bool() && used->as_bool()) {
        return make_error(Errc::denied, "the invite was already used; ask for a new one");
      }
      o["used"] = true;
      if (auto st = save(invites_file(), book); !st) return st.error();
      return secret;
    }
    return make_error(Errc::denied, "unknown invite (not issued by this node)");
  }

  // --- the inviter's side of the handshake ---------------------------------------------------

  void handle_join(http::Request&& req, http::Responder respond) {
    auto refuse = [&respond](unsigned status, const std::string& why) {
      spdlog::warn("team: join refused: {}", why);
      respond(http::Response::json(status, json::serialize(json::object{{"error", why}})));
    };
    auto body = parse_json(req.body);
    if (!body.is_object()) return refuse(400, "malformed join request");
    auto joiner = identity::parse_id(get_str(body, "key"));
    if (!joiner) return refuse(400, "malformed joiner key");
    std::string name = get_str(body, "name");
    if (!gossip::valid_node_name(name)) return refuse(400, "invalid node name");
    auto addresses = get_strings(body, "addresses", gossip::kMaxTokenAddresses);
    for (const auto& a : addresses) {
      if (!gossip::valid_address(a)) return refuse(400, "invalid address " + a.substr(0, 64));
    }
    auto mac = from_hex(get_str(body, "mac"));
    auto sig = from_base64url(get_str(body, "sig"));
    if (!mac || mac->size() != 32 || !sig || sig->size() != 64) {
      return refuse(400, "malformed join proof");
    }
    auto input = join_signing_input(ctx.self->public_key(), *joiner, *mac, name, addresses);
    if (!joiner->verify(input, *sig)) return refuse(403, "join request signature is invalid");
    if (ctx.engine->roster().is_removed(*joiner)) {
      return refuse(403, "this key was removed from the mesh");
    }
    auto secret = burn(*joiner, *mac);
    if (!secret) return refuse(403, secret.error().message);

    gossip::RosterOp op;
    op.kind = gossip::RosterOp::Kind::admit;
    op.key = *joiner;
    op.name = name;
    op.addresses = addresses;
    auto ev = ctx.engine->publish(gossip::kRosterTopic, gossip::encode_roster_op(op));
    if (!ev) return refuse(500, "cannot record the admission: " + ev.error().message);
    std::string code = gossip::confirmation_code(ctx.self->public_key(), *joiner, *secret);
    spdlog::info("team: {} ({}) joined the mesh; confirmation code {}", name, joiner->id(), code);
    if (links) links->refresh();

    json::array members;
    for (const auto& m : ctx.engine->roster().members()) {
      json::array a;
      for (const auto& x : m.addresses) a.emplace_back(x);
      members.push_back(json::object{{"id", m.key.id()}, {"name", m.name}, {"addresses", a}});
    }
    respond(http::Response::json(
        200, json::serialize(json::object{
                 {"inviter", json::object{{"name", ctx.node_name()}, {"id", ctx.self->id()}}},
                 {"code", code},
                 {"members", members}})));
  }

  // --- the joiner's side ---------------------------------------------------------------------

  void join(const std::vector<std::string>& args, control::Responder r) {
    if (args.empty() || args.size() > 2)
      return r.reply(usage("usage: mesh join TOKEN [--name NAME]"));
    auto token = gossip::parse_token(args[0], now_unix());
    if (!token) return r.reply(fail(token.error().message));
    if (token->inviter == ctx.self->public_key()) {
      return r.reply(fail("this invite was made by this node; run mesh join on the new node"));
    }
    std::string name = args.size() > 1 && !args[1].empty() ? args[1] : ctx.node_name();
    if (!gossip::valid_node_name(name)) return r.reply(usage("invalid node name"));
    auto addresses = own_addresses();
    auto mac = join_mac(token->secret, token->inviter, ctx.self->public_key());
    auto sig = ctx.self->sign(
        join_signing_input(token->inviter, ctx.self->public_key(), mac, name, addresses));
    json::array jaddrs;
    for (const auto& a : addresses) jaddrs.emplace_back(a);
    std::string body = json::serialize(json::object{{"v", 1},
                                                    {"key", ctx.self->id()},
                                                    {"name", name},
                                                    {"addresses", jaddrs},
                                                    {"mac", to_hex(mac)},
                                                    {"sig", to_base64url(sig)}});
    auto state = std::make_shared<JoinAttempt>();
    state->token = std::move(*token);
    state->body = std::move(body);
    state->responder = std::move(r);
    try_join(state, 0);
  }

  struct JoinAttempt {
    gossip::Token token;
    std::string body;
    control::Responder responder;
    std::vector<std::string> errors;
  };

  void try_join(std::shared_ptr<JoinAttempt> st, std::size_t index) {
    if (index >= st->token.addresses.size()) {
      std::string why = "could not reach the inviter";
      for (const auto& e : st->errors) why += "\n  " + e;
      return st->responder.reply(fail(why));
    }
    auto hp = config::parse_host_port(st->token.addresses[index]);
    if (!hp) {
      st->errors.push_back(st->token.addresses[index] + ": not HOST:PORT");
      return try_join(st, index + 1);
    }
    http::HttpsCall call;
    call.host = hp->host;
    call.port = hp->port;
    call.expected = st->token.inviter;  // pinned from the token: no CA, no trust on first use
    call.path = "/mesh/join";
    call.body = st->body;
    http::https_request(*ctx.io, std::move(call), [this, st, index](Result<http::Response> res) {
      const std::string& addr = st->token.addresses[index];
      if (!res) {
        st->errors.push_back(addr + ": " + res.error().message);
        return try_join(st, index + 1);
      }
      auto doc = parse_json(res->body);
      if (res->status != 200) {
        std::string why = get_str(doc, "error");
        // The inviter answered and refused: trying other addresses would not change that.
        return st->responder.reply(fail("the inviter refused the join: " +
                                        (why.empty() ? res->body.substr(0, 200) : why)));
      }
      finish_join(st, doc);
    });
  }

  void finish_join(const std::shared_ptr<JoinAttempt>& st, const json::value& doc) {
    // Admit the inviter in our own feed: from here on its events (and, through its admits,
    // every other member's) are accepted, and the whole team learns of us by gossip.
    gossip::RosterOp op;
    op.kind = gossip::RosterOp::Kind::admit;
    op.key = st->token.inviter;
    op.name = st->token.name;
    // The token's addresses are a node-local hint: what the inviter announces about itself
    // is what the team dials (it may advertise a different address than the one used here).
    if (links) {
      for (const auto& a : st->token.addresses) links->add_hint(st->token.inviter, a);
    }
    auto ev = ctx.engine->publish(gossip::kRosterTopic, gossip::encode_roster_op(op));
    if (!ev) return st->responder.reply(fail("cannot record the inviter: " + ev.error().message));
    std::string code =
        gossip::confirmation_code(st->token.inviter, ctx.self->public_key(), st->token.secret);
    std::size_t members = 0;
    if (doc.is_object()) {
      if (auto* m = doc.as_object().if_contains("members"); m && m->is_array()) {
        members = m->as_array().size();
      }
    }
    spdlog::info("team: joined {}'s mesh ({}); confirmation code {}", st->token.name,
                 st->token.inviter.id(), code);
    if (links) links->refresh();
    st->responder.reply(
        {0, json::serialize(json::object{
                {"inviter", json::object{{"name", st->token.name}, {"id", st->token.inviter.id()}}},
                {"code", code},
                {"members", members}})});
  }

  // --- membership management -----------------------------------------------------------------

  control::Reply remove_peer(const std::vector<std::string>& args) {
    if (args.size() != 1) return usage("usage: mesh remove-peer NAME|ID");
    auto m = ctx.engine->roster().find_by_name(args[0]);
    if (!m) return fail("no member named " + args[0] + " (see: mesh peers)");
    if (m->key == ctx.self->public_key()) return fail("a node cannot remove itself");
    gossip::RosterOp op;
    op.kind = gossip::RosterOp::Kind::remove;
    op.key = m->key;
    auto ev = ctx.engine->publish(gossip::kRosterTopic, gossip::encode_roster_op(op));
    if (!ev) return fail(ev.error().message);
    spdlog::info("team: removed {} ({}) from the mesh", m->name, m->key.id());
    if (links) links->refresh();
    return {0, json::serialize(json::object{{"removed", m->key.id()}})};
  }

  control::Reply add_address(const std::vector<std::string>& args) {
    if (args.size() != 2) return usage("usage: mesh add-address NAME|ID HOST:PORT");
    if (!gossip::valid_address(args[1]) || !config::parse_host_port(args[1])) {
      return usage(args[1] + " is not HOST:PORT");
    }
    auto m = ctx.engine->roster().find_by_name(args[0]);
    if (!m) return fail("no member named " + args[0] + " (see: mesh peers)");
    {
      std::lock_guard lock(mu);
      json::object book = addresses;
      auto& entry = book[m->key.id()];
      if (!entry.is_array()) entry = json::array{};
      auto& list = entry.as_array();
      bool have = false;
      for (const auto& a : list) have = have || (a.is_string() && a.as_string() == args[1]);
      if (!have) {
        if (list.size() >= gossip::kMaxTokenAddresses) {
          return fail("at most " + std::to_string(gossip::kMaxTokenAddresses) +
                      " configured addresses per member");
        }
        list.emplace_back(args[1]);
      }
      if (auto st = save(addresses_file(), book); !st) return fail(st.error().message);
      addresses = std::move(book);
    }
    if (links) links->refresh();
    return {0, json::serialize(json::object{{"ok", true}})};
  }

  std::vector<std::string> own_addresses() const {
    if (!ctx.advertise.empty()) return ctx.advertise;
    auto hp = config::parse_host_port(ctx.listen);
    if (!hp) return {ctx.listen};
    if (is_loopback_host(hp->host)) return {format_address(hp->host, hp->port)};
    if (hp->host != "0.0.0.0" && hp->host != "::") return {format_address(hp->host, hp->port)};
    std::vector<std::string> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) == 0) {
      for (auto* ifa = list; ifa; ifa = ifa->ifa_next) {
        if (!ifa->ifa_addr || (ifa->ifa_flags & IFF_LOOPBACK) || !(ifa->ifa_flags & IFF_UP))
          continue;
        char buf[INET6_ADDRSTRLEN] = {};
        if (ifa->ifa_addr->sa_family == AF_INET) {
          auto* sin = reinterpret_cast<sockaddr_in*>(ifa->ifa_addr);
          ::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
        } else if (ifa->ifa_addr->sa_family == AF_INET6 && hp->host == "::") {
          auto* sin6 = reinterpret_cast<sockaddr_in6*>(ifa->ifa_addr);
          if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) continue;  // needs a scope id
          ::inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
        } else {
          continue;
        }
        auto a = format_address(buf, hp->port);
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
        if (out.size() >= gossip::kMaxTokenAddresses) break;
      }
      ::freeifaddrs(list);
    }
    if (out.empty()) out.push_back(format_address("127.0.0.1", hp->port));
    return out;
  }
};

Team::Team(TeamContext context) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = std::move(context);
  impl_->addresses = impl_->load(impl_->addresses_file());
}
Team::~Team() = default;

void Team::set_links(links::LinkManager* l) {
  impl_->links = l;
}

std::vector<std::string> Team::configured_addresses(const PublicKey& key) const {
  std::lock_guard lock(impl_->mu);
  const auto& book = impl_->addresses;
  return get_strings(book, key.id(), gossip::kMaxTokenAddresses);
}

std::vector<std::string> Team::own_addresses() const {
  return impl_->own_addresses();
}

void Team::announce_addresses() {
  auto mine = own_addresses();
  auto me = impl_->ctx.engine->roster().find(impl_->ctx.self->public_key());
  if (me && me->addresses == mine) return;
  gossip::RosterOp op;
  op.kind = gossip::RosterOp::Kind::addresses;
  op.key = impl_->ctx.self->public_key();
  op.addresses = mine;
  if (auto ev = impl_->ctx.engine->publish(gossip::kRosterTopic, gossip::encode_roster_op(op));
      !ev) {
    spdlog::warn("team: cannot announce this node's addresses: {}", ev.error().message);
  }
}

json::array Team::peers_json() const {
  json::array out;
  for (const auto& p : impl_->ctx.engine->peers()) {
    json::array addrs;
    for (const auto& a : p.member.addresses) addrs.emplace_back(a);
    for (const auto& a : configured_addresses(p.member.key)) addrs.emplace_back(a);
    json::object peer{{"name", p.member.name},
                      {"id", p.member.key.id()},
                      {"state", p.up ? "up" : "down"},
                      {"addresses", addrs},
                      {"last_seen_ms", static_cast<std::int64_t>(p.last_seen_ms)}};
    // What its last heartbeat said: load, capabilities (running plugins) and plugin values.
    auto beat = parse_json(p.heartbeat);
    if (beat.is_object()) {
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
  verbs.add({"join", "join a mesh with a token from mesh invite", "core"},
            [impl](control::Call&& c, control::Responder r) { impl->join(c.args, std::move(r)); });
  verbs.add({"peers", "list the other members", "core"},
            [this](control::Call&&, control::Responder r) {
              r.reply({0, json::serialize(peers_json())});
            });
  verbs.add(
      {"remove-peer", "remove a member from the whole mesh", "core"},
      [impl](control::Call&& c, control::Responder r) { r.reply(impl->remove_peer(c.args)); });
  verbs.add(
      {"add-address", "add a configured address for a member", "core"},
      [impl](control::Call&& c, control::Responder r) { r.reply(impl->add_address(c.args)); });
}

void Team::register_routes(http::Router& router) {
  http::RouteOptions opts;
  opts.access = http::Access::open;  // the joiner is not a member yet; the token is the proof
  opts.max_body = kMaxJoinBody;
  auto* impl = impl_.get();
  router.add("POST", "/mesh/join", opts, [impl](http::Request&& req, http::Responder respond) {
    impl->handle_join(std::move(req), std::move(respond));
  });
}

}  // namespace mesh::app
