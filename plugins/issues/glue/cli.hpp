// `mesh issues ...`: one plugin verb with subcommands (../shared/CLI.md, "Issues"; docs/cli.md).
// parse_cli() turns the arguments into a command or a usage error (exit 2, before anything is
// published); IssuesCli::run() carries it out against the Service. A command that publishes
// answers once its last op has come back through the feed (or the wait ran out), so a script's
// next `mesh issues show` sees the change.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "actions.hpp"
#include "query.hpp"

namespace mesh::issues {

struct CliCommand {
  std::string sub;  // list show new edit comment close reopen label assign move status help
  std::string repo, id;
  std::optional<std::string> title, body, body_file;
  std::vector<std::string> labels;       // new: --label
  std::vector<std::string> add, remove;  // label, assign: +X / -X
  std::optional<std::string> label_filter;
  StateFilter state = StateFilter::open;
  std::optional<Place> place;
  std::string target;
  std::string edit_comment;  // comment --edit COMMENT
};

struct CliParse {
  std::optional<CliCommand> command;
  std::string usage_error;  // when !command: what was wrong, then the usage
};
CliParse parse_cli(const std::vector<std::string>& args);

extern const char* const kIssuesUsage;

struct CliReply {
  int exit_code = 0;   // 0 ok, 1 failed, 2 usage
  std::string output;  // stdout text or JSON; the message (without "error: ") when failed
};

// A reply now, or one to build once this node's event `wait_seq` has been taken.
struct CliOutcome {
  CliReply reply;
  std::uint64_t wait_seq = 0;
  std::function<CliReply(const Taken&)> finish;
};

class IssuesCli {
 public:
  // now_ms: the wall clock (relative times in tables); read_file: reads a --body-file.
  IssuesCli(Service& service, Actions& actions, std::function<std::uint64_t()> now_ms)
      : s_(service), a_(actions), now_ms_(std::move(now_ms)) {}

  CliOutcome run(const std::vector<std::string>& args, bool json);

  // The status summary (`mesh issues status` and the plugin's mesh status section).
  std::string status_json() const;
  std::string status_text() const;

 private:
  CliOutcome query(const CliCommand& c, bool json);
  CliOutcome change(const CliCommand& c, bool json);
  // Answers a published change: the result's message, or the refusal.
  CliOutcome after(const ActionResult& r, bool json, std::function<CliReply(bool taken)> done);

  Service& s_;
  Actions& a_;
  std::function<std::uint64_t()> now_ms_;
};

// Reads a --body-file given to the daemon: an absolute path to a regular file, at most a little
// more than the body limit (so the limit's own message says how large it was). The path must be
// absolute: the daemon does not run in the user's directory. An error is a usage error.
std::optional<std::string> read_body_file(const std::string& path, std::string* error);

}  // namespace mesh::issues
