// init, start, stop, status, id, reload, plugins.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli.hpp"
#include "mesh/app/app.hpp"
#include "mesh/base/files.hpp"
#include "table.hpp"

namespace mesh::cli {
namespace po = boost::program_options;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

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

// Forks a daemon in its own session, then waits until its control socket answers.
int start_detached(const Globals& g, const std::optional<std::string>& listen) {
  auto init = app::init_root(g.root, "");
  if (!init) return error(init.error().message);
  fs::path out_file = g.root / "logs" / "daemon.out";
  std::error_code ec;
  auto offset = fs::exists(out_file, ec) ? fs::file_size(out_file, ec) : 0;

  // A daemon already answering on this root: say so instead of racing it.
  if (auto running =
          control::call(app::socket_path(g.root), {"status", {}, true}, std::chrono::seconds(5));
      running && running->exit_code == 0) {
    json::value doc;
    std::string pid = parse_reply(*running, &doc) ? str(doc.at("node"), "pid") : "?";
    return error("a mesh daemon is already running for " + g.root.string() + " (pid " + pid +
                 "); stop it with: mesh stop");
  }
  std::vector<std::string> argv{"mesh", "--root", fs::absolute(g.root).string(), "start"};
  if (listen) argv.insert(argv.end(), {"--listen", *listen});
  pid_t pid = ::fork();
  if (pid < 0) return error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    ::setsid();
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv("/proc/self/exe", cargv.data());
    _exit(127);
  }

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      // The daemon refused to start: show its own error line.
      std::ifstream in(out_file);
      in.seekg(static_cast<std::streamoff>(offset));
      std::string line, last_error;
      while (std::getline(in, line)) {
        if (line.rfind("error: ", 0) == 0) last_error = line.substr(7);
      }
      return error(last_error.empty()
                       ? "the daemon exited during start-up; see " + out_file.string()
                       : last_error);
    }
    auto r = control::call(app::socket_path(g.root), {"status", {}, true}, std::chrono::seconds(5));
    json::value doc;
    // Only our child counts as ready (another daemon may have won a race for the root).
    if (r && r->exit_code == 0 && parse_reply(*r, &doc) &&
        str(doc.at("node"), "pid") == std::to_string(pid)) {
      std::string bound = str(doc.at("node"), "listen");
      if (g.json) {
        print_json(json::object{{"pid", pid}, {"listen", bound}});
      } else {
        std::cout << "mesh daemon started (pid " << pid << "), listening on " << bound << "\n";
      }
      return kOk;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return error("the daemon did not become ready within 30 s; see " + out_file.string());
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
  if (vm.count("detach")) return start_detached(g, listen);

  app::DaemonOptions opts;
  opts.root = g.root;
  opts.listen = listen;
  opts.on_ready = [](const std::string& bound) {
    std::fprintf(stderr, "mesh daemon ready, listening on %s\n", bound.c_str());
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
  control::Reply reply;
  int code = kOk;
  if (!call_daemon(g, "stop", {}, true, &reply, &code)) return code;
  json::value doc;
  if (reply.exit_code != 0) return error(reply.output, reply.exit_code);
  if (!parse_reply(reply, &doc)) return kFailed;
  auto pid = static_cast<pid_t>(doc.at("pid").to_number<std::int64_t>());
  // Return only once the process is gone, so `mesh stop && mesh start` is safe.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (process_alive(pid)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return error("the daemon (pid " + std::to_string(pid) + ") did not exit within 20 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (g.json) {
    print_json(json::object{{"stopped", true}});
  } else {
    std::cout << "mesh daemon stopped\n";
  }
  return kOk;
}

int cmd_status(const Globals& g, std::vector<std::string> args) {
  if (!args.empty()) return error("status takes no arguments", kUsage);
  return json_verb(g, "status", {}, [](const json::value& doc) {
    const auto& node = doc.at("node");
    std::cout << "node     " << str(node, "name") << "  " << str(node, "id") << "\n"
              << "listen   " << str(node, "listen") << "\n"
              << "version  " << str(node, "version") << "\n";
    const auto& peers = doc.at("peers").as_array();
    std::cout << "peers    " << (peers.empty() ? "none yet (invite one: mesh invite)" : "") << "\n";
    for (const auto& p : peers) {
      std::cout << "  " << str(p, "name") << "  " << str(p, "state") << "  " << str(p, "id")
                << "\n";
    }
    if (const auto* nearby = doc.as_object().if_contains("nearby");
        nearby && nearby->is_array() && !nearby->as_array().empty()) {
      std::cout << "nearby   unpaired nodes on the LAN (invite them with: mesh invite)\n";
      for (const auto& n : nearby->as_array()) {
        std::cout << "  " << str(n, "id") << " at " << str(n, "address") << "\n";
      }
    }
    const auto& repos = doc.at("repos").as_array();
    std::cout << "repos    " << (repos.empty() ? "none yet" : "") << "\n";
    for (const auto& r : repos) {
      const auto* refs = r.as_object().if_contains("refs");
      const auto* divs = r.as_object().if_contains("divergences");
      std::size_t nrefs = refs && refs->is_object() ? refs->as_object().size() : 0;
      std::size_t ndiv = divs && divs->is_array() ? divs->as_array().size() : 0;
      std::cout << "  " << str(r, "name") << "  " << nrefs << (nrefs == 1 ? " ref" : " refs");
      if (ndiv) std::cout << "  " << ndiv << (ndiv == 1 ? " divergence" : " divergences");
      std::cout << "\n";
      for (const auto& d : ndiv ? divs->as_array() : json::array{}) {
        std::cout << "    " << str(d, "ref") << " diverged from " << str(d, "node")
                  << " (their tip parked as " << str(d, "parked_as") << ")\n"
                  << "      merge it:   " << str(d, "resolve") << "\n"
                  << "      or drop it: " << str(d, "discard") << "\n";
      }
    }
    std::cout << "\n" << plugin_table(doc.at("plugins"));
  });
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
    const auto& restart = doc.at("restart_required").as_array();
    if (!restart.empty()) {
      std::cout << "; these take effect on the next restart:";
      for (const auto& r : restart) std::cout << " " << r.as_string().c_str();
    }
    std::cout << "\n";
  });
}

int cmd_plugins(const Globals& g, std::vector<std::string> args) {
  if (!args.empty()) return error("plugins takes no arguments", kUsage);
  return json_verb(g, "plugins", {},
                   [](const json::value& doc) { std::cout << plugin_table(doc); });
}

}  // namespace

std::vector<Command> node_commands() {
  return {
      {"init", "create the root, the node identity and mesh.toml", "mesh init [--name NAME]",
       cmd_init},
      {"start", "run the daemon (initialising the root first if needed)",
       "mesh start [--listen HOST:PORT] [--detach]", cmd_start},
      {"stop", "stop the daemon gracefully", "mesh stop", cmd_stop},
      {"status", "node, peers, repos and plugins at a glance", "mesh status", cmd_status},
      {"id", "print this node's public identity (alias: pubkey)", "mesh id", cmd_id},
      {"pubkey", "alias of id", "mesh pubkey", cmd_id},
      {"reload", "re-read mesh.toml without a restart", "mesh reload", cmd_reload},
      {"plugins", "list the plugins and their state", "mesh plugins", cmd_plugins},
  };
}

}  // namespace mesh::cli
