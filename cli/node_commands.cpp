// init, start, stop, status, id, reload, plugins.
#include <signal.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli.hpp"
#include "format.hpp"
#include "mesh/app/app.hpp"
#include "mesh/config/config.hpp"
#include "table.hpp"

namespace mesh::cli {
namespace po = boost::program_options;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

const json::array& array_at(const json::value& doc, std::string_view key) {
  static const json::array empty;
  if (!doc.is_object()) return empty;
  const auto* p = doc.as_object().if_contains(key);
  return p && p->is_array() ? p->as_array() : empty;
}

std::string plugin_table(const json::value& plugins) {
  Table t({"ID", "VERSION", "ABI", "ENABLED", "STATE", "ERROR"});
  if (plugins.is_array()) {
    for (const auto& p : plugins.as_array()) {
      t.add({str(p, "id"), str(p, "version"), str(p, "abi"), str(p, "enabled"), str(p, "state"),
             str(p, "error")});
    }
  }
  return t.empty() ? "no plugins enabled\n" : t.render();
}

int cmd_init(const Globals& g, std::vector<std::string> args) {
  po::options_description desc;
  desc.add_options()("name", po::value<std::string>()->default_value(""), "node name");
  po::variables_map vm;
  int code = kOk;
  if (!parse_args(args, desc, {}, &vm, &code)) return code;
  auto r = app::init_root(g.root, vm["name"].as<std::string>());
  if (!r) return error(r.error().message);
  if (g.json) {
    print_json(json::object{{"name", r->name},
                            {"id", r->id},
                            {"root", r->root.string()},
                            {"config", r->config.string()}});
  } else {
    std::cout << (r->created ? "initialised " : "already initialised ") << r->root.string()
              << "\n  name    " << r->name << "\n  id      " << r->id << "\n  config  "
              << r->config.string() << "\n";
  }
  return kOk;
}

// A bad --listen is a usage error, found before anything starts.
bool check_listen(const std::optional<std::string>& listen, int* code) {
  if (!listen) return true;
  if (auto hp = config::parse_host_port(*listen); !hp) {
    *code = error("--listen: " + hp.error().message, kUsage);
    return false;
  }
  return true;
}

int cmd_start(const Globals& g, std::vector<std::string> args) {
  po::options_description desc;
  desc.add_options()("listen", po::value<std::string>(), "HOST:PORT")("detach",
                                                                      "run in background");
  po::variables_map vm;
  int code = kOk;
  if (!parse_args(args, desc, {}, &vm, &code)) return code;
  std::optional<std::string> listen;
  if (vm.count("listen")) listen = vm["listen"].as<std::string>();
  if (!check_listen(listen, &code)) return code;
  if (vm.count("detach")) {
    auto s = start_detached(g, listen);
    if (!s) return error(s.error().message);
    for (const auto& w : s->warnings) warn(w);
    if (g.json) {
      print_json(json::object{{"pid", s->pid}, {"listen", s->listen}});
    } else {
      std::cout << "mesh daemon started (pid " << s->pid << "), listening on " << s->listen << "\n";
    }
    return kOk;
  }

  app::DaemonOptions opts;
  opts.root = g.root;
  opts.listen = listen;
  opts.on_ready = [root = g.root](const std::string& bound) {
    std::fprintf(stderr, "mesh daemon ready, listening on %s\n", bound.c_str());
    // The same warning as --detach: ask our own control socket once, as a client would.
    auto r = control::call(app::socket_path(root), {"plugins", {}, true}, std::chrono::seconds(5));
    if (r && r->exit_code == 0) {
      boost::system::error_code ec;
      auto doc = json::parse(r->output, ec);
      if (!ec) {
        for (const auto& w : failed_plugin_warnings(doc)) warn(w);
      }
    }
  };
  return app::run_daemon(opts);
}

// A zombie counts as gone: PID 1 of a container may never reap the detached daemon.
bool process_alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

int cmd_stop(const Globals& g, std::vector<std::string> args) {
  if (!args.empty()) return error("stop takes no arguments", kUsage);
  auto r = control::call(app::socket_path(g.root), {"stop", {}, true}, std::chrono::seconds(60));
  if (!r && r.error().code == Errc::not_found) {
    // The state the user asked for holds already: not a failure.
    if (g.json) {
      print_json(json::object{{"stopped", true}, {"was_running", false}});
    } else {
      std::cout << "the mesh daemon is not running in " << fs::absolute(g.root).string()
                << "; nothing to stop\n";
    }
    return kOk;
  }
  if (!r) return error("cannot reach the mesh daemon: " + r.error().message);
  if (r->exit_code != 0) return error(r->output, r->exit_code);
  json::value doc;
  if (!parse_reply(*r, &doc)) return kFailed;
  auto pid = static_cast<pid_t>(num(doc, "pid"));
  // Return only once the process is gone, so `mesh stop && mesh start` is safe.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (pid > 0 && process_alive(pid)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return error("the daemon (pid " + std::to_string(pid) + ") did not exit within 20 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (g.json) {
    print_json(json::object{{"stopped", true}, {"was_running", true}});
  } else {
    std::cout << "mesh daemon stopped\n";
  }
  return kOk;
}

// One line per member that hit a gossip limit or sent a clock too far ahead (gossip.offenders).
std::vector<std::string> offender_warnings(const json::value& doc, bool wide) {
  std::vector<std::string> out;
  const auto* gossip = doc.is_object() ? doc.as_object().if_contains("gossip") : nullptr;
  if (!gossip) return out;
  for (const auto& o : array_at(*gossip, "offenders")) {
    std::string who = str(o, "name").empty() ? "member" : "member " + str(o, "name");
    who += " (" + shown_id(str(o, "id"), wide) + ")";
    if (auto n = num(o, "lamport_refused"); n > 0) {
      out.push_back(who + ": " + std::to_string(n) +
                    " events refused, their Lamport clock was too far ahead (highest " +
                    str(o, "highest_lamport") +
                    "); remove it if you do not know why: " + "mesh remove-peer " + str(o, "id"));
    }
    std::string limits;
    auto add = [&](const char* key, const char* what) {
      if (auto n = num(o, key); n > 0) {
        limits += (limits.empty() ? "" : ", ") + std::to_string(n) + " " + what;
      }
    };
    add("events_throttled", "events over max_events_per_minute");
    add("bytes_throttled", "events over max_feed_bytes_per_day");
    add("live_throttled", "live events over max_live_per_minute");
    add("sync_throttled", "sync requests over max_sync_per_minute");
    if (!limits.empty()) out.push_back(who + " hit [gossip] limits: " + limits);
  }
  return out;
}

void render_status(const json::value& doc, bool wide) {
  static const json::value none;
  const auto* node_p = doc.is_object() ? doc.as_object().if_contains("node") : nullptr;
  const json::value& node = node_p ? *node_p : none;
  // What failed comes first: an enabled plugin that did not start is easy to miss below.
  const json::value plugins_doc = array_at(doc, "plugins");
  for (const auto& w : failed_plugin_warnings(plugins_doc)) {
    std::cout << "WARNING  " << w << "\n";
  }
  for (const auto& w : offender_warnings(doc, wide)) std::cout << "WARNING  " << w << "\n";
  Table head({"", ""});
  head.add({"node", str(node, "name") + "  " + shown_id(str(node, "id"), wide)});
  head.add({"listen", str(node, "listen")});
  head.add({"version", str(node, "version")});
  if (!str(node, "root").empty()) head.add({"root", str(node, "root")});
  std::cout << head.render();

  const auto& peers = array_at(doc, "peers");
  std::cout << "\npeers" << (peers.empty() ? ": none yet (invite one: mesh invite)" : "") << "\n";
  if (!peers.empty()) {
    Table t({"NAME", "ID", "STATE", "REACH", "LAST SEEN", "JOINED"}, "  ");
    for (const auto& p : peers) {
      t.add({str(p, "name"), shown_id(str(p, "id"), wide), str(p, "state"), reach_text(p),
             ago(num(p, "last_seen_ms")), joined_text(p)});
    }
    std::cout << t.render();
  }
  if (const auto& nearby = array_at(doc, "nearby"); !nearby.empty()) {
    std::cout << "\nnearby: unpaired nodes on the LAN (invite them with: mesh invite)\n";
    Table t({"ID", "ADDRESS", "SEEN"}, "  ");
    for (const auto& n : nearby) {
      t.add({shown_id(str(n, "id"), wide), str(n, "address"), ago(num(n, "seen_ms"))});
    }
    std::cout << t.render();
  }
  std::cout << "\nplugins\n";
  std::string plugins = plugin_table(plugins_doc);
  std::istringstream lines(plugins);
  for (std::string line; std::getline(lines, line);) std::cout << "  " << line << "\n";
  // Sections plugins contribute ({"sections":{"<id>":{"text":"..."}}}), after the core's own:
  // each text is a heading line and the plugin's indented lines (ABI 1.3 status_set).
  if (const auto* sections = doc.as_object().if_contains("sections");
      sections && sections->is_object()) {
    for (const auto& [id, section] : sections->as_object()) {
      std::string text = str(section, "text");
      if (text.empty()) continue;
      if (text.back() != '\n') text += '\n';
      std::cout << "\n" << text;
    }
  }
}

int cmd_status(const Globals& g, std::vector<std::string> args) {
  po::options_description desc;
  desc.add_options()("wide", "full ids");
  po::variables_map vm;
  int code = kOk;
  if (!parse_args(args, desc, {}, &vm, &code)) return code;
  bool wide = vm.count("wide") > 0;
  return json_verb(g, "status", {}, [wide](const json::value& doc) { render_status(doc, wide); });
}

int cmd_id(const Globals& g, std::vector<std::string> args) {
  if (!args.empty()) return error("id takes no arguments", kUsage);
  // The identity is a file: answer without the daemon.
  auto id = identity_of(g.root);
  if (!id) return error(id.error().message);
  if (g.json) {
    print_json(json::object{{"id", *id}});
  } else {
    std::cout << *id << "\n";
  }
  return kOk;
}

int cmd_reload(const Globals& g, std::vector<std::string> args) {
  if (!args.empty()) return error("reload takes no arguments", kUsage);
  return json_verb(g, "reload", {}, [](const json::value& doc) {
    std::cout << "reloaded";
    const auto& restart = array_at(doc, "restart_required");
    if (!restart.empty()) {
      std::cout << "; these take effect on the next restart:";
      for (const auto& r : restart) std::cout << " " << r.as_string().c_str();
    }
    std::cout << "\n";
  });
}

int cmd_plugins(const Globals& g, std::vector<std::string> args) {
  if (!args.empty()) return error("plugins takes no arguments", kUsage);
  return json_verb(g, "plugins", {}, [](const json::value& doc) {
    for (const auto& w : failed_plugin_warnings(doc)) warn(w);
    std::cout << plugin_table(doc);
  });
}

}  // namespace

std::vector<Command> node_commands() {
  return {
      {"init",
       "create the root, the node identity and mesh.toml",
       "mesh init [--name NAME]",
       cmd_init,
       "  --name NAME   this node's name for teammates (default: your user name)\n"
       "Idempotent: an existing key and mesh.toml are kept.",
       {"--name"}},
      {"start",
       "run the daemon (initialising the root first if needed)",
       "mesh start [--listen HOST:PORT] [--detach]",
       cmd_start,
       "  --listen HOST:PORT   overrides [http] listen (default 0.0.0.0:7979; port 0 picks one)\n"
       "  --detach             run in the background; returns once it answers and prints its pid\n"
       "A plugin that failed to start is a warning on stderr; the exit code stays 0.",
       {"--listen", "--detach"}},
      {"stop",
       "stop the daemon gracefully",
       "mesh stop",
       cmd_stop,
       "Returns once the daemon has exited. A node that is not running is not an error.",
       {}},
      {"status",
       "node, peers, repos and plugins at a glance",
       "mesh status [--wide]",
       cmd_status,
       "  --wide   full ids instead of their first 12 characters",
       {"--wide"}},
      {"id",
       "print this node's public identity (alias: pubkey)",
       "mesh id",
       cmd_id,
       "Reads the key file: works without the daemon.",
       {}},
      {"pubkey", "alias of id", "mesh pubkey", cmd_id, "", {}},
      {"reload",
       "re-read mesh.toml without a restart",
       "mesh reload",
       cmd_reload,
       "Enabling or disabling a plugin takes effect now; settings that need a restart are listed.",
       {}},
      {"plugins",
       "list the plugins and their state",
       "mesh plugins",
       cmd_plugins,
       "state is running, stopped or failed; error says why a plugin failed.",
       {}},
  };
}

}  // namespace mesh::cli
