// invite, join, peers, remove-peer, add-address, sync.
#include <boost/program_options.hpp>
#include <iostream>
#include <map>

#include "cli.hpp"
#include "format.hpp"
#include "mesh/app/app.hpp"
#include "mesh/config/config.hpp"
#include "mesh/gossip/token.hpp"
#include "table.hpp"

namespace mesh::cli {
namespace po = boost::program_options;
namespace json = boost::json;

namespace {

// "90", "30s", "10m", "2h", "1d" -> seconds; 0 on error.
std::uint64_t parse_duration(const std::string& text) {
  if (text.empty() || text.size() > 12) return 0;
  std::size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(text, &used);
  } catch (...) {
    return 0;
  }
  std::string unit = text.substr(used);
  if (unit.empty() || unit == "s") return n;
  if (unit == "m") return n * 60;
  if (unit == "h") return n * 3600;
  if (unit == "d") return n * 86400;
  return 0;
}

bool valid_host_port(const std::string& a) {
  return gossip::valid_address(a) && config::parse_host_port(a).ok();
}

std::vector<std::string> strings_at(const json::value& doc, std::string_view key) {
  std::vector<std::string> out;
  if (!doc.is_object()) return out;
  const auto* p = doc.as_object().if_contains(key);
  if (!p || !p->is_array()) return out;
  for (const auto& v : p->as_array()) {
    if (v.is_string()) out.emplace_back(v.as_string());
  }
  return out;
}

void print_invite(const json::value& doc) {
  std::string token = str(doc, "token");
  std::int64_t expires_ms = num(doc, "expires_at") * 1000;
  std::cout << token << "\n\nOn the new node run:\n  mesh join " << token << "\n"
            << "It works once, until " << local_time(expires_ms) << " (" << in(expires_ms)
            << ").\nAddresses in the token (the new node must reach one of them):\n";
  for (const auto& a : strings_at(doc, "addresses")) std::cout << "  " << a << "\n";
}

std::string joiner_line(const json::value& use) {
  return str(use, "name") + " (" + str(use, "id") + ") joined; confirmation code " +
         str(use, "code") + ": it must match the code " + str(use, "name") + " was shown";
}

int cmd_invite(const Globals& g, std::vector<std::string> args) {
  po::options_description desc;
  desc.add_options()("ttl", po::value<std::string>()->default_value("10m"), "lifetime")(
      "addr", po::value<std::vector<std::string>>(), "HOST:PORT (repeatable)")(
      "wait", "block until the token is used or expires");
  po::variables_map vm;
  int code = kOk;
  if (!parse_args(args, desc, {}, &vm, &code)) return code;
  auto ttl = parse_duration(vm["ttl"].as<std::string>());
  if (ttl == 0 || ttl > 7 * 86400) {
    return error("--ttl takes a duration such as 90s, 10m, 2h or 1d (at most 7d)", kUsage);
  }
  std::vector<std::string> dargs{std::to_string(ttl)};
  if (vm.count("addr")) {
    for (const auto& a : vm["addr"].as<std::vector<std::string>>()) {
      if (!valid_host_port(a)) return error("--addr " + a + " is not HOST:PORT", kUsage);
      dargs.push_back(a);
    }
  }
  bool wait = vm.count("wait") > 0;
  control::Reply reply;
  if (!call_daemon(g, "invite", dargs, true, &reply, &code)) return code;
  if (reply.exit_code != 0) return error(reply.output, reply.exit_code);
  json::value doc;
  if (!parse_reply(reply, &doc)) return kFailed;
  if (!wait) {
    if (g.json) {
      print_json(doc);
    } else {
      print_invite(doc);
    }
    return kOk;
  }
  // The token must be shown before waiting; under --json stdout keeps its one document for the
  // end, so the token goes to stderr first.
  if (g.json) {
    std::cerr << "token: " << str(doc, "token") << "\n" << std::flush;
  } else {
    print_invite(doc);
    std::cout << "\nWaiting for it to be used (Ctrl-C stops waiting; the token stays valid)...\n"
              << std::flush;
  }
  auto left_ms = std::max<std::int64_t>(0, num(doc, "expires_at") * 1000 - now_ms());
  control::Reply waited;
  if (!call_daemon(g, "invite-wait", {str(doc, "token")}, true, &waited, &code, {},
                   std::chrono::milliseconds(left_ms + 30'000))) {
    return code;
  }
  if (waited.exit_code != 0) return error(waited.output, waited.exit_code);
  json::value result;
  if (!parse_reply(waited, &result)) return kFailed;
  const json::value& use = result.at("joined");
  if (g.json) {
    json::object out = doc.as_object();
    out["joined"] = use;
    print_json(out);
  } else {
    std::cout << joiner_line(use) << "\n";
  }
  return kOk;
}

int cmd_join(const Globals& g, std::vector<std::string> args) {
  po::options_description desc;
  desc.add_options()("token", po::value<std::string>(), "token")(
      "name", po::value<std::string>()->default_value(""), "this node's name in the mesh");
  po::positional_options_description pos;
  pos.add("token", 1);
  po::variables_map vm;
  int code = kOk;
  if (!parse_args(args, desc, pos, &vm, &code)) return code;
  if (!vm.count("token")) return error("usage: mesh join TOKEN [--name NAME]", kUsage);
  const std::string token = vm["token"].as<std::string>();
  const std::string name = vm["name"].as<std::string>();
  if (!name.empty() && !gossip::valid_node_name(name)) {
    return error("--name: 1 to 64 bytes, no control characters", kUsage);
  }
  // A token that cannot work is refused before a daemon is started for it.
  auto now_s = static_cast<std::uint64_t>(now_ms() / 1000);
  if (auto t = gossip::parse_token(token, now_s); !t) return error(t.error().message);

  // Joining is what a new node does first: start its daemon if it is not running yet.
  auto probe = control::call(app::socket_path(g.root), {"id", {}, true}, std::chrono::seconds(5));
  if (!probe && probe.error().code == Errc::not_found) {
    auto s = start_detached(g, std::nullopt);
    if (!s) return error("cannot start the mesh daemon to join: " + s.error().message);
    (g.json ? std::cerr : std::cout)
        << "mesh daemon started (pid " << s->pid << "), listening on " << s->listen << "\n"
        << std::flush;
    for (const auto& w : s->warnings) warn(w);
  }
  control::Reply reply;
  if (!call_daemon(g, "join", {token, name}, true, &reply, &code)) return code;
  if (reply.exit_code != 0) return error(reply.output, reply.exit_code);
  json::value doc;
  if (!parse_reply(reply, &doc)) return kFailed;
  for (const auto& w : strings_at(doc, "warnings")) warn(w);
  if (g.json) {
    print_json(doc);
    return kOk;
  }
  const auto& inv = doc.at("inviter");
  std::cout << "joined the mesh of " << str(inv, "name") << " (" << str(inv, "id") << "), "
            << str(doc, "members") << " members\n"
            << "confirmation code: " << str(doc, "code") << "  (" << str(inv, "name")
            << " sees the same code: mesh invite --wait, mesh peers)\n";
  return kOk;
}

// One warning per name that several members carry: only ids tell them apart.
void warn_shared_names(const json::value& peers, bool wide) {
  std::map<std::string, std::vector<std::string>> shared;
  for (const auto& p : peers.as_array()) {
    if (str(p, "name_shared") == "yes") shared[str(p, "name")].push_back(str(p, "id"));
  }
  for (const auto& [name, ids] : shared) {
    std::vector<std::string> shown;
    for (const auto& id : ids) shown.push_back(shown_id(id, wide));
    // A name only one peer carries is shared with this node itself.
    std::string who = ids.size() == 1 ? "this node and " + shown.front() : joined(shown, ", ");
    warn(who + " share the name '" + name + "': name a member by its id prefix, e.g. mesh " +
         "remove-peer " + shown.front());
  }
}

int cmd_peers(const Globals& g, std::vector<std::string> args) {
  po::options_description desc;
  desc.add_options()("wide", "full ids");
  po::variables_map vm;
  int code = kOk;
  if (!parse_args(args, desc, {}, &vm, &code)) return code;
  bool wide = vm.count("wide") > 0;
  return json_verb(g, "peers", {}, [wide](const json::value& doc) {
    if (!doc.is_array() || doc.as_array().empty()) {
      std::cout << "no peers yet (invite one: mesh invite)\n";
      return;
    }
    warn_shared_names(doc, wide);
    Table t({"NAME", "ID", "STATE", "REACH", "LAST SEEN", "JOINED", "ADDRESSES"});
    for (const auto& p : doc.as_array()) {
      t.add({str(p, "name"), shown_id(str(p, "id"), wide), str(p, "state"), reach_text(p),
             ago(num(p, "last_seen_ms")), joined_text(p), joined(strings_at(p, "addresses"), ",")});
    }
    std::cout << t.render();
  });
}

int cmd_remove_peer(const Globals& g, std::vector<std::string> args) {
  if (args.size() != 1) return error("usage: mesh remove-peer NAME|ID", kUsage);
  return json_verb(g, "remove-peer", args, [](const json::value& doc) {
    std::string name = str(doc, "name");
    std::cout << "removed " << (name.empty() ? "" : name + " ") << "(" << str(doc, "removed")
              << ") from the mesh\n";
  });
}

int cmd_add_address(const Globals& g, std::vector<std::string> args) {
  if (args.size() != 2) return error("usage: mesh add-address NAME|ID HOST:PORT", kUsage);
  if (!valid_host_port(args[1])) return error(args[1] + " is not HOST:PORT", kUsage);
  return json_verb(g, "add-address", args,
                   [](const json::value&) { std::cout << "address added\n"; });
}

int cmd_sync(const Globals& g, std::vector<std::string> args) {
  if (args.size() > 1) return error("usage: mesh sync [REPO]", kUsage);
  return json_verb(g, "sync", args, [](const json::value&) { std::cout << "sync started\n"; });
}

}  // namespace

std::vector<Command> team_commands() {
  return {
      {"invite",
       "print a one-time token for a new teammate",
       "mesh invite [--ttl DURATION] [--addr HOST:PORT]... [--wait]",
       cmd_invite,
       "  --ttl DURATION    how long the token works: 90s, 10m (default), 2h, 1d; at most 7d\n"
       "  --addr HOST:PORT  an address the new node should dial (repeatable; default: this\n"
       "                    node's interface addresses with its port)\n"
       "  --wait            block until the token is used (prints who joined and the\n"
       "                    confirmation code) or expires (exit 1)",
       {"--ttl", "--addr", "--wait"}},
      {"join",
       "join a mesh with a token from mesh invite (starts the daemon if needed)",
       "mesh join TOKEN [--name NAME]",
       cmd_join,
       "  --name NAME   this node's name in the mesh (default: the name in mesh.toml)\n"
       "Starts the daemon in the background first when it is not running (as mesh start\n"
       "--detach). Prints the 6-digit confirmation code the inviter sees too.",
       {"--name"}},
      {"peers",
       "list the other members and whether they are up",
       "mesh peers [--wide]",
       cmd_peers,
       "  --wide   full ids instead of their first 12 characters",
       {"--wide"}},
      {"remove-peer",
       "remove a member from the whole mesh",
       "mesh remove-peer NAME|ID",
       cmd_remove_peer,
       "NAME|ID is a member's name, or its id or an id prefix of 4+ characters (needed when\n"
       "two members share a name; an ambiguous one lists the candidates and exits 1).",
       {}},
      {"add-address",
       "add a configured address for a member",
       "mesh add-address NAME|ID HOST:PORT",
       cmd_add_address,
       "NAME|ID as for remove-peer. The address is node-local and never overwritten by gossip.",
       {}},
      {"sync",
       "force an anti-entropy round now",
       "mesh sync [REPO]",
       cmd_sync,
       "  REPO   compare only this repo (default: every repo)",
       {}},
  };
}

}  // namespace mesh::cli
