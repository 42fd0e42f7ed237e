#include "help.hpp"

#include <algorithm>
#include <iostream>

#include "mesh/app/app.hpp"
#include "mesh/base/files.hpp"
#include "table.hpp"

namespace mesh::cli {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kUsageText =
    "usage: mesh [--root DIR] [--json] COMMAND [ARGS...]\n"
    "       mesh help [COMMAND] | mesh COMMAND --help | mesh --version\n";
constexpr const char* kGlobalOptions =
    "Global options (before or after the command):\n"
    "  --root DIR   the node's directory (default $MESH_ROOT, then ~/.mesh)\n"
    "  --json       stdout is exactly one JSON document, also for help and errors\n"
    "  --help, -h   this help, or a command's\n"
    "  --version    print the version\n"
    "Exit codes: 0 ok, 1 failed (stderr starts with \"error: \"), 2 usage error.\n";
constexpr std::size_t kMaxCachedVerbs = 512;

fs::path cache_file(const Globals& g) {
  return g.root / "verbs.json";
}

std::vector<DaemonVerb> parse_verbs(const json::value& doc) {
  std::vector<DaemonVerb> out;
  if (!doc.is_array()) return out;
  for (const auto& v : doc.as_array()) {
    if (out.size() >= kMaxCachedVerbs) break;
    DaemonVerb d{str(v, "verb"), str(v, "summary"), str(v, "owner")};
    if (!d.verb.empty()) out.push_back(std::move(d));
  }
  return out;
}

std::vector<DaemonVerb> read_cache(const Globals& g) {
  auto text = read_file(cache_file(g), 256 * 1024);
  if (!text) return {};
  boost::system::error_code ec;
  auto doc = json::parse(*text, ec);
  return ec ? std::vector<DaemonVerb>{} : parse_verbs(doc);
}

void write_cache(const Globals& g, const std::string& text) {
  auto old = read_file(cache_file(g), 256 * 1024);
  if (old && *old == text) return;
  // Best effort: the list only improves answers while the daemon is down.
  (void)write_file_atomic(cache_file(g), text);
}

// Optimal string alignment distance: insertions, deletions, substitutions, transpositions.
std::size_t distance(const std::string& a, const std::string& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string did_you_mean(const std::vector<std::string>& matches) {
  if (matches.empty()) return "";
  std::string out = "; did you mean ";
  for (std::size_t i = 0; i < matches.size(); ++i) {
    out += (i ? (i + 1 == matches.size() ? " or " : ", ") : "") + ("'" + matches[i] + "'");
  }
  return out + "?";
}

// What `mesh help` lists: built-ins, then the visible verbs of plugins.
std::vector<DaemonVerb> plugin_verbs(const std::vector<Command>& cmds, const VerbList& list) {
  std::vector<DaemonVerb> out;
  for (const auto& v : list.verbs) {
    if (v.owner == "core" || is_internal(v)) continue;
    bool builtin =
        std::any_of(cmds.begin(), cmds.end(), [&](const Command& c) { return c.name == v.verb; });
    if (!builtin) out.push_back(v);
  }
  return out;
}

std::vector<std::string> known_names(const std::vector<Command>& cmds, const VerbList& list) {
  std::vector<std::string> names{"help"};
  for (const auto& c : cmds) names.push_back(c.name);
  for (const auto& v : plugin_verbs(cmds, list)) names.push_back(v.verb);
  return names;
}

const Command* find_command(const std::vector<Command>& cmds, const std::string& name) {
  for (const auto& c : cmds) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

json::array installed_json(const Globals& g) {
  json::array out;
  for (const auto& p : app::installed_plugins(app::plugin_search_dirs(g.root))) {
    out.push_back(json::object{{"id", p.id}, {"version", p.version}, {"summary", p.summary}});
  }
  return out;
}

const Command kHelpCommand{"help",
                           "show the commands, or one command's usage",
                           "mesh help [COMMAND]",
                           nullptr,
                           "  COMMAND   a built-in command or a plugin's verb\n"
                           "Also: mesh COMMAND --help. With --json the help is a JSON document.\n"
                           "For shell completion: mesh help --list (command names), "
                           "mesh help --flags COMMAND.",
                           {"--list", "--flags"}};

int command_help(const Globals& g, const Command& c, const std::string& owner) {
  if (g.json) {
    print_json(json::object{{"command", c.name},
                            {"usage", c.usage},
                            {"summary", c.summary},
                            {"details", c.details},
                            {"owner", owner}});
    return kOk;
  }
  std::cout << "usage: " << c.usage << "\n\n" << c.summary << "\n";
  if (!c.details.empty()) std::cout << "\n" << c.details << (c.details.back() == '\n' ? "" : "\n");
  return kOk;
}

int verb_help(const Globals& g, const DaemonVerb& v, const VerbList& list) {
  std::string note = list.daemon_up ? ""
                                    : "The mesh daemon is not running: this is its last list of "
                                      "commands. Start it to run this one.";
  std::string owner = v.owner == "core" ? "the daemon" : "the " + v.owner + " plugin";
  if (g.json) {
    json::object out{{"command", v.verb},          {"usage", "mesh " + v.verb + " [ARGS...]"},
                     {"summary", v.summary},       {"owner", v.owner},
                     {"internal", is_internal(v)}, {"daemon_running", list.daemon_up}};
    print_json(out);
    return kOk;
  }
  std::cout << "usage: mesh " << v.verb << " [ARGS...]\n\n"
            << v.summary << "\n\nA command of " << owner
            << (is_internal(v) ? ", used internally (not listed by mesh help)" : "")
            << "; its arguments are the plugin's own.\n";
  if (!note.empty()) std::cout << note << "\n";
  return kOk;
}

int overview(const Globals& g, const std::vector<Command>& cmds) {
  auto list = daemon_verbs(g);
  auto extra = plugin_verbs(cmds, list);
  auto installed = installed_json(g);
  if (g.json) {
    json::array commands;
    for (const auto& c : cmds) {
      commands.push_back(json::object{
          {"name", c.name}, {"summary", c.summary}, {"usage", c.usage}, {"owner", "core"}});
    }
    for (const auto& v : extra) {
      commands.push_back(json::object{{"name", v.verb},
                                      {"summary", v.summary},
                                      {"usage", "mesh " + v.verb + " [ARGS...]"},
                                      {"owner", v.owner}});
    }
    print_json(json::object{{"usage", kUsageText},
                            {"commands", commands},
                            {"plugins_installed", installed},
                            {"daemon_running", list.daemon_up}});
    return kOk;
  }
  std::cout << kUsageText << "\nCommands:\n";
  Table t({"", ""}, "  ");
  for (const auto& c : cmds) t.add({c.name, c.summary});
  t.add({"help", kHelpCommand.summary});
  std::cout << t.render();
  if (!extra.empty()) {
    Table p({"", ""}, "  ");
    for (const auto& v : extra) p.add({v.verb, v.summary + " [" + v.owner + "]"});
    std::cout << "\nFrom plugins" << (list.daemon_up ? "" : " (as the daemon last listed them)")
              << ":\n"
              << p.render();
  }
  if (!list.daemon_up) {
    std::cout << "\nNote: " << daemon_down_message(g)
              << ".\nThe commands its plugins add are listed while it runs.\n";
  }
  std::cout << "\nPlugins installed here";
  if (installed.empty()) {
    std::cout << ": none\n";
  } else {
    std::cout << " (enable them in mesh.toml [plugins] enabled, then mesh reload):\n";
    Table p({"", "", ""}, "  ");
    for (const auto& i : installed) p.add({str(i, "id"), str(i, "version"), str(i, "summary")});
    std::cout << p.render();
  }
  std::cout << "\n" << kGlobalOptions;
  return kOk;
}

}  // namespace

VerbList daemon_verbs(const Globals& g) {
  VerbList out;
  auto r = control::call(app::socket_path(g.root), {"verbs", {}, true}, std::chrono::seconds(5));
  if (r && r->exit_code == 0) {
    boost::system::error_code ec;
    auto doc = json::parse(r->output, ec);
    if (!ec) {
      out.daemon_up = true;
      out.verbs = parse_verbs(doc);
      write_cache(g, r->output);
      return out;
    }
  }
  out.daemon_up = r.ok();  // answering, but not with a list (still starting)
  out.verbs = read_cache(g);
  return out;
}

const DaemonVerb* find_verb(const VerbList& list, const std::string& name) {
  for (const auto& v : list.verbs) {
    if (v.verb == name) return &v;
  }
  return nullptr;
}

bool is_internal(const DaemonVerb& v) {
  return v.summary.rfind("internal:", 0) == 0;
}

std::vector<std::string> close_matches(const std::string& typo,
                                       const std::vector<std::string>& known) {
  std::vector<std::pair<std::size_t, std::string>> scored;
  const std::size_t limit = typo.size() <= 3 ? 1 : 2;
  for (const auto& k : known) {
    std::size_t d = distance(typo, k);
    bool prefix = typo.size() >= 3 && k.rfind(typo, 0) == 0;
    if (d <= limit || prefix) scored.emplace_back(prefix ? 0 : d, k);
  }
  std::sort(scored.begin(), scored.end());
  scored.erase(std::unique(scored.begin(), scored.end()), scored.end());
  std::vector<std::string> out;
  for (const auto& [d, k] : scored) {
    if (d > scored.front().first) break;  // only the closest ones
    if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
    if (out.size() == 3) break;
  }
  return out;
}

int help(const Globals& g, const std::vector<Command>& cmds, const std::vector<std::string>& args) {
  if (args.empty()) return overview(g, cmds);
  if (args[0] == "--list") {
    if (args.size() != 1) return error("usage: mesh help --list", kUsage);
    for (const auto& n : known_names(cmds, daemon_verbs(g))) std::cout << n << "\n";
    return kOk;
  }
  if (args[0] == "--flags") {
    if (args.size() != 2) return error("usage: mesh help --flags COMMAND", kUsage);
    const Command* c = args[1] == "help" ? &kHelpCommand : find_command(cmds, args[1]);
    if (c) {
      for (const auto& f : c->flags) std::cout << f << "\n";
    }
    for (const char* f : {"--help", "--json", "--root"}) std::cout << f << "\n";
    return kOk;
  }
  if (args.size() > 1) return error("usage: mesh help [COMMAND]", kUsage);
  if (args[0] == "help") return command_help(g, kHelpCommand, "core");
  if (const Command* c = find_command(cmds, args[0])) return command_help(g, *c, "core");
  auto list = daemon_verbs(g);
  if (const DaemonVerb* v = find_verb(list, args[0])) return verb_help(g, *v, list);
  std::string why = "unknown command '" + args[0] + "'" +
                    did_you_mean(close_matches(args[0], known_names(cmds, list)));
  if (!list.daemon_up) why += " (commands from plugins are known once the daemon runs)";
  return error(why + " (see: mesh help)", kUsage);
}

int unknown_command(const Globals&, const std::string& name, const std::vector<Command>& cmds,
                    const VerbList& verbs) {
  if (name == "version")
    return error("unknown command 'version'; did you mean 'mesh --version'?", kUsage);
  auto matches = close_matches(name, known_names(cmds, verbs));
  std::string why = "unknown command '" + name + "'" + did_you_mean(matches);
  if (!verbs.daemon_up && matches.empty()) {
    why += " (commands from plugins are known once the daemon runs)";
  }
  return error(why + " (see: mesh help)", kUsage);
}

int unknown_option(const std::string& option) {
  std::string name = option.substr(0, option.find('='));
  if (name == "-v") return error("unknown option '-v'; did you mean '--version'?", kUsage);
  auto matches = close_matches(name, {"--root", "--json", "--help", "--version"});
  return error("unknown option '" + name + "'" + did_you_mean(matches) + " (see: mesh help)",
               kUsage);
}

}  // namespace mesh::cli
