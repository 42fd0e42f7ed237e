// `mesh`: the command-line client, and the daemon itself under `mesh start`.
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cli.hpp"
#include "mesh/app/app.hpp"
#include "table.hpp"

namespace mesh::cli {
namespace json = boost::json;
namespace {

constexpr const char* kUsageText =
    "usage: mesh [--root DIR] [--json] COMMAND [ARGS...]\n"
    "       mesh help [COMMAND] | mesh COMMAND --help | mesh --version\n";

std::filesystem::path default_root() {
  if (const char* r = std::getenv("MESH_ROOT"); r && *r) return r;
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::filesystem::path(home) / ".mesh";
  }
  return ".mesh";
}

const Command* find(const std::vector<Command>& cmds, std::string_view name) {
  for (const auto& c : cmds) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Lists the built-in commands and, if the daemon is up, the verbs its plugins serve.
int help(const Globals& g, const std::vector<Command>& cmds, const std::vector<std::string>& args) {
  if (!args.empty()) {
    if (const Command* c = find(cmds, args[0])) {
      std::cout << "usage: " << c->usage << "\n\n" << c->summary << "\n";
      return kOk;
    }
    return error("unknown command '" + args[0] + "' (see: mesh help)", kUsage);
  }
  std::cout << kUsageText << "\nCommands:\n";
  Table t({"", ""});
  for (const auto& c : cmds) t.add({"  " + c.name, c.summary});
  std::cout << t.render().substr(t.render().find('\n') + 1);
  auto r = control::call(app::socket_path(g.root), {"verbs", {}, true}, std::chrono::seconds(5));
  if (r && r->exit_code == 0) {
    boost::system::error_code ec;
    auto doc = json::parse(r->output, ec);
    if (!ec && doc.is_array()) {
      Table p({"", ""});
      for (const auto& v : doc.as_array()) {
        if (str(v, "owner") == "core") continue;
        p.add({"  " + str(v, "verb"), str(v, "summary") + " [" + str(v, "owner") + "]"});
      }
      if (!p.empty())
        std::cout << "\nFrom plugins:\n" << p.render().substr(p.render().find('\n') + 1);
    }
  } else {
    std::cout << "\n(start the daemon to see the commands its plugins add)\n";
  }
  std::cout << "\nGlobal options: --root DIR (default $MESH_ROOT, then ~/.mesh), --json\n";
  return kOk;
}

// A verb registered by a plugin: the daemon runs it and answers text (or JSON with --json).
int plugin_verb(const Globals& g, const std::string& verb, const std::vector<std::string>& args) {
  control::Reply reply;
  int code = kOk;
  auto on_chunk = [](const std::string& chunk) { std::cout << chunk << std::flush; };
  if (!call_daemon(g, verb, args, g.json, &reply, &code, on_chunk)) return code;
  if (reply.exit_code != 0) return error(reply.output, reply.exit_code);
  std::cout << reply.output;
  if (!reply.output.empty() && reply.output.back() != '\n') std::cout << "\n";
  return kOk;
}

}  // namespace

int run(int argc, char** argv) {
  Globals g;
  g.root = default_root();
  std::vector<std::string> rest;
  bool want_help = false;
  bool after_dashdash = false;
  // Global options may stand before or after the command (mesh status --json), never after --.
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (after_dashdash) {
      rest.push_back(a);
    } else if (a == "--") {
      after_dashdash = true;
      rest.push_back(a);
    } else if (a == "--json") {
      g.json = true;
    } else if (a == "--root" || a.rfind("--root=", 0) == 0) {
      if (a == "--root") {
        if (i + 1 >= argc) return error("--root needs a directory", kUsage);
        g.root = argv[++i];
      } else {
        g.root = a.substr(7);
      }
      if (g.root.empty()) return error("--root needs a directory", kUsage);
    } else if (a == "--help" || a == "-h") {
      want_help = true;
    } else if (a == "--version" || a == "-V") {
      if (rest.empty()) {
        std::cout << (g.json ? "{\"version\":\"" MESH_VERSION "\"}" : "mesh " MESH_VERSION) << "\n";
        return kOk;
      }
      rest.push_back(a);
    } else {
      rest.push_back(a);
    }
  }
  auto cmds = node_commands();
  for (auto& c : team_commands()) cmds.push_back(std::move(c));
  for (auto& c : repo_commands()) cmds.push_back(std::move(c));
  if (rest.empty()) {
    if (want_help) return help(g, cmds, {});
    std::cerr << kUsageText;
    return kUsage;
  }
  std::string name = rest.front();
  std::vector<std::string> args(rest.begin() + 1, rest.end());
  if (name == "help") return help(g, cmds, args);
  if (want_help) return help(g, cmds, {name});
  if (const Command* c = find(cmds, name)) return c->run(g, std::move(args));
  return plugin_verb(g, name, args);
}

}  // namespace mesh::cli

int main(int argc, char** argv) {
  try {
    return mesh::cli::run(argc, argv);
  } catch (const std::exception& e) {
    return mesh::cli::error(std::string("internal error: ") + e.what());
  }
}
