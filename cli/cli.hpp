// Shared pieces of the `mesh` command: global options, daemon calls, output helpers.
#pragma once

#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <filesystem>
#include <functional>
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
};

// A failure to report: prints "error: <message>" on stderr and returns code.
int error(const std::string& message, int code = kFailed);
// Prints a JSON document (one line) on stdout.
void print_json(const boost::json::value& v);

// Calls a daemon verb. On success returns true and fills reply; otherwise prints the error
// ("the mesh daemon is not running ...") and sets *exit_code.
bool call_daemon(const Globals& g, const std::string& verb, const std::vector<std::string>& args,
                 bool json, control::Reply* reply, int* exit_code,
                 const std::function<void(const std::string&)>& on_chunk = {});

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

struct Command {
  std::string name;
  std::string summary;
  std::string usage;  // shown by `mesh help NAME` and `mesh NAME --help`
  std::function<int(const Globals&, std::vector<std::string>)> run;
};

std::vector<Command> node_commands();
std::vector<Command> team_commands();
std::vector<Command> repo_commands();

// The node id from <root>/keys/node.key (no daemon needed).
Result<std::string> identity_of(const std::filesystem::path& root);

}  // namespace mesh::cli
