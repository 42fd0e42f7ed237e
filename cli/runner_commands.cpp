// `mesh runner enable|disable`: the one command that opts this node in to running CI jobs (its
// teammates' and its own), or out again. It edits `enabled` in the [runner] table of mesh.toml
// in place (comments and everything else kept), checks the result with the daemon's own config
// parser before writing it, and reloads a running daemon.
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "mesh/base/files.hpp"
#include "mesh/config/config.hpp"

namespace mesh::cli {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxConfigBytes = 1 << 20;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The table a header line opens ("runner" for "[runner]  # x"), or "" for any other line.
std::string table_of(std::string_view line) {
  line = trim(line);
  if (line.size() < 3 || line[0] != '[' || line[1] == '[') return "";
  auto close = line.find(']');
  if (close == std::string_view::npos) return "";
  return std::string(trim(line.substr(1, close - 1)));
}

bool is_enabled_key(std::string_view line) {
  line = trim(line);
  if (!line.starts_with("enabled")) return false;
  line = trim(line.substr(7));
  return !line.empty() && line[0] == '=';
}

}  // namespace

// mesh.toml text with [runner] enabled set to `on`: the existing line replaced, else one added
// to the table, else the table appended.
std::string with_runner_enabled(const std::string& toml, bool on) {
  const std::string line_text = std::string("enabled = ") + (on ? "true" : "false");
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < toml.size();) {
    auto nl = toml.find('\n', at);
    if (nl == std::string::npos) nl = toml.size();
    lines.push_back(toml.substr(at, nl - at));
    at = nl + 1;
  }
  std::string table;
  long header = -1;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (std::string t = table_of(lines[i]); !t.empty() || trim(lines[i]).starts_with("[[")) {
      table = t;
      if (t == "runner") header = static_cast<long>(i);
      continue;
    }
    if (table == "runner" && is_enabled_key(lines[i])) {
      lines[i] = line_text;
      header = -2;  // replaced
      break;
    }
  }
  if (header >= 0) lines.insert(lines.begin() + header + 1, line_text);
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  if (header == -1) out += "\n[runner]\n" + line_text + "\n";
  return out;
}

namespace {

int cmd_runner(const Globals& g, std::vector<std::string> args) {
  if (args.size() != 1 || (args[0] != "enable" && args[0] != "disable")) {
    return error("usage: mesh runner enable|disable", kUsage);
  }
  const bool on = args[0] == "enable";
  const fs::path file = g.root / "mesh.toml";
  auto text = read_file(file, kMaxConfigBytes);
  if (!text) {
    return error("cannot read " + file.string() + ": " + text.error().message +
                 " (run mesh init first)");
  }
  const std::string updated = with_runner_enabled(*text, on);
  // Refused before anything is written: the file stays as it was.
  if (auto cfg = config::parse(updated, file.string()); !cfg) {
    return error(cfg.error().message + " (mesh.toml left unchanged)");
  }
  if (updated != *text) {
    if (auto st = write_file_atomic(file, updated); !st) {
      return error("cannot write " + file.string() + ": " + st.error().message);
    }
  }
  bool reloaded = false;
  if (fs::exists(g.root / "mesh.sock")) {
    control::Reply reply;
    int code = kOk;
    if (!call_daemon(g, "reload", {}, true, &reply, &code)) return code;
    if (reply.exit_code != 0) return error("mesh reload: " + reply.output, reply.exit_code);
    reloaded = true;
  }
  if (g.json) {
    print_json(
        boost::json::object{{"enabled", on}, {"config", file.string()}, {"reloaded", reloaded}});
    return kOk;
  }
  std::cout << "[runner] enabled = " << (on ? "true" : "false") << " in " << file.string() << "\n"
            << (on ? "this node now runs CI jobs on its runners: its teammates' and its own "
                     "pushes' (a shell job runs as you, on this machine)\n"
                   : "this node runs no CI jobs any more\n")
            << (reloaded ? "the running daemon reloaded it\n"
                         : "it takes effect when the node starts (mesh start)\n");
  return kOk;
}

}  // namespace

std::vector<Command> runner_commands() {
  return {{"runner",
           "opt this node in to running CI jobs, or out (the [runner] table of mesh.toml)",
           "mesh runner enable|disable",
           cmd_runner,
           "  enable    run CI jobs on this node's runners (teammates' and your own pushes')\n"
           "  disable   run none (the default of a new node)\n"
           "Edits [runner] enabled in mesh.toml (everything else kept), checks the file, and\n"
           "reloads a running daemon. Labels, modes and limits: the [runner] table (docs/ci.md).",
           {"enable", "disable"}}};
}

}  // namespace mesh::cli
