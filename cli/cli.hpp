// Shared pieces of the `mesh` command: global options, daemon calls, output helpers.
#pragma once

#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/control/control.hpp"

namespace mesh::cli {

// Exit codes of CLI.md.
inline constexpr int kOk = 0;
inline constexpr int kFailed = 1;
inline constexpr int kUsage = 2;

struct Globals {
  std::filesystem::path root;
  bool json = false;
  // The root came from --root: hints then spell it out (mesh --root DIR start).
  bool root_flag = false;
};

// A failure to report: prints "error: <message>" on stderr and returns code. Under --json,
// main() also puts {"error","exit"} on stdout when the command printed nothing there.
int error(const std::string& message, int code = kFailed);
// "warning: <message>" on stderr; never changes the exit code.
void warn(const std::string& message);
// Prints a JSON document (one line) on stdout.
void print_json(const boost::json::value& v);

// "the mesh daemon is not running (start it with: mesh start); looked in ROOT", saying so
// when ROOT does not exist, and spelling out --root when it came from the command line.
std::string daemon_down_message(const Globals& g);
// The command that starts a node on this root: "mesh start" or "mesh --root DIR start".
std::string start_hint(const Globals& g);

// Calls a daemon verb. On success returns true and fills reply; otherwise prints the error
// (daemon_down_message) and sets *exit_code.
bool call_daemon(const Globals& g, const std::string& verb, const std::vector<std::string>& args,
                 bool json, control::Reply* reply, int* exit_code,
                 const std::function<void(const std::string&)>& on_chunk = {},
                 std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Parses a reply's output as JSON; prints an error for a malformed one.
bool parse_reply(const control::Reply& reply, boost::json::value* out);

// Parses a command's own arguments; false (usage error printed, *code set) on a usage error.
bool parse_args(const std::vector<std::string>& args,
                const boost::program_options::options_description& desc,
                const boost::program_options::positional_options_description& pos,
                boost::program_options::variables_map* vm, int* code);

// Runs a daemon verb that answers JSON: prints it raw with --json, else through render().
int json_verb(const Globals& g, const std::string& verb, const std::vector<std::string>& args,
              const std::function<void(const boost::json::value&)>& render);

// json helpers tolerant of missing keys.
std::string str(const boost::json::value& v, std::string_view key);
std::int64_t num(const boost::json::value& v, std::string_view key);
// A peer's "joined" record for tables: "2m ago via our invite, code 123456"; "" without one.
std::string joined_text(const boost::json::value& peer);
// How a peer is reached, for tables: "direct since 5m ago", "relay since 12s ago", "none"
// (its "reach" and "reach_since_ms"; the reach alone when the time is not known).
std::string reach_text(const boost::json::value& peer);

struct Command {
  // A constructor rather than an aggregate: entries may leave out details and flags.
  Command(std::string n, std::string s, std::string u,
          std::function<int(const Globals&, std::vector<std::string>)> r, std::string d = "",
          std::vector<std::string> f = {})
      : name(std::move(n)),
        summary(std::move(s)),
        usage(std::move(u)),
        run(std::move(r)),
        details(std::move(d)),
        flags(std::move(f)) {}
  std::string name;
  std::string summary;
  std::string usage;  // shown by `mesh help NAME` and `mesh NAME --help`
  std::function<int(const Globals&, std::vector<std::string>)> run;
  std::string details;             // flags, arguments and exit codes, for the help page
  std::vector<std::string> flags;  // for shell completion
};

std::vector<Command> node_commands();
std::vector<Command> team_commands();
std::vector<Command> repo_commands();
std::vector<Command> update_commands();
std::vector<Command> runner_commands();
// mesh.toml text with [runner] enabled = on (runner_commands.cpp; exposed for its tests).
std::string with_runner_enabled(const std::string& toml, bool on);
// The hidden `mesh __update-watch` the updater starts to restart the daemon (update_watch.cpp).
int run_update_watch(const Globals& g, std::vector<std::string> args);

// Every built-in command, in help order.
std::vector<Command> builtin_commands();

// The node id from <root>/keys/node.key (no daemon needed).
Result<std::string> identity_of(const std::filesystem::path& root);

// A daemon started in the background for `start --detach` and `join`.
struct Started {
  long pid = 0;
  std::string listen;
  std::vector<std::string> warnings;  // enabled plugins that failed to start
};
// Forks a daemon in its own session and waits until its control socket answers; the error
// says why it did not start (its own "error:" line). Errc::exists when one already runs.
Result<Started> start_detached(const Globals& g, const std::optional<std::string>& listen);
// "plugin X failed to start: why" for each enabled plugin in state "failed" of a plugins
// array (from `status` or `plugins`).
std::vector<std::string> failed_plugin_warnings(const boost::json::value& plugins);

}  // namespace mesh::cli
