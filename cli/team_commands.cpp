// invite, join, peers, remove-peer, add-address.
#include <boost/program_options.hpp>
#include <iostream>

#include "cli.hpp"
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

std::string ago(std::int64_t ms) {
  if (ms <= 0) return "never";
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  auto s = (now - ms) / 1000;
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s ago";
  if (s < 7200) return std::to_string(s / 60) + "m ago";
  return std::to_string(s / 3600) + "h ago";
}

int cmd_invite(const Globals& g, std::vector<std::string> args) {
  po::options_description desc;
  desc.add_options()("ttl", po::value<std::string>()->default_value("10m"), "lifetime")(
      "addr", po::value<std::vector<std::string>>(), "HOST:PORT (repeatable)");
  po::variables_map vm;
  int code = kOk;
  if (!parse_args(args, desc, {}, &vm, &code)) return code;
  auto ttl = parse_duration(vm["ttl"].as<std::string>());
  if (ttl == 0) return error("--ttl takes a duration such as 90s, 10m, 2h or 1d", kUsage);
  std::vector<std::string> dargs{std::to_string(ttl)};
  if (vm.count("addr")) {
    for (const auto& a : vm["addr"].as<std::vector<std::string>>()) dargs.push_back(a);
  }
  return json_verb(g, "invite", dargs, [](const json::value& doc) {
    std::cout << str(doc, "token") << "\n\nOn the new node run:\n  mesh join " << str(doc, "token")
              << "\nThe token works once and expires in the time given.\n";
  });
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
  return json_verb(g, "join", {vm["token"].as<std::string>(), vm["name"].as<std::string>()},
                   [](const json::value& doc) {
                     const auto& inv = doc.at("inviter");
                     std::cout << "joined the mesh of " << str(inv, "name") << " ("
                               << str(inv, "id") << "), " << str(doc, "members") << " members\n"
                               << "confirmation code: " << str(doc, "code")
                               << "  (the inviter's log shows the same code)\n";
                   });
}

int cmd_peers(const Globals& g, std::vector<std::string> args) {
  if (!args.empty()) return error("peers takes no arguments", kUsage);
  return json_verb(g, "peers", {}, [](const json::value& doc) {
    if (doc.as_array().empty()) {
      std::cout << "no peers yet (invite one: mesh invite)\n";
      return;
    }
    Table t({"NAME", "ID", "STATE", "LAST SEEN", "ADDRESSES"});
    for (const auto& p : doc.as_array()) {
      std::string addrs;
      for (const auto& a : p.at("addresses").as_array()) {
        addrs += (addrs.empty() ? "" : ",") + std::string(a.as_string());
      }
      t.add({str(p, "name"), str(p, "id"), str(p, "state"),
             ago(p.at("last_seen_ms").to_number<std::int64_t>()), addrs});
    }
    std::cout << t.render();
  });
}

int cmd_remove_peer(const Globals& g, std::vector<std::string> args) {
  if (args.size() != 1) return error("usage: mesh remove-peer NAME|ID", kUsage);
  return json_verb(g, "remove-peer", args, [](const json::value& doc) {
    std::cout << "removed " << str(doc, "removed") << " from the mesh\n";
  });
}

int cmd_add_address(const Globals& g, std::vector<std::string> args) {
  if (args.size() != 2) return error("usage: mesh add-address NAME|ID HOST:PORT", kUsage);
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
      {"invite", "print a one-time token for a new teammate",
       "mesh invite [--ttl DURATION] [--addr HOST:PORT]...", cmd_invite},
      {"join", "join a mesh with a token from mesh invite", "mesh join TOKEN [--name NAME]",
       cmd_join},
      {"peers", "list the other members and whether they are up", "mesh peers", cmd_peers},
      {"remove-peer", "remove a member from the whole mesh", "mesh remove-peer NAME|ID",
       cmd_remove_peer},
      {"add-address", "add a configured address for a member", "mesh add-address NAME|ID HOST:PORT",
       cmd_add_address},
      {"sync", "force an anti-entropy round now", "mesh sync [REPO]", cmd_sync},
  };
}

}  // namespace mesh::cli
