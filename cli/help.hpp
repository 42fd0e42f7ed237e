// `mesh help`, the verbs plugins add (asked from the daemon, remembered for when it is down),
// "did you mean" for typos, and the lists shell completion reads.
#pragma once

#include <string>
#include <vector>

#include "cli.hpp"

namespace mesh::cli {

struct DaemonVerb {
  std::string verb;
  std::string summary;
  std::string owner;  // "core" or a plugin id
};

struct VerbList {
  bool daemon_up = false;
  std::vector<DaemonVerb> verbs;  // from the daemon, or its last answer (<root>/verbs.json)
};

// Asks the running daemon for its verbs (and remembers them in <root>/verbs.json); when it is
// not running, the remembered list.
VerbList daemon_verbs(const Globals& g);
const DaemonVerb* find_verb(const VerbList& list, const std::string& name);

// Verbs whose summary starts with "internal:" (e.g. repos-remove behind `mesh remove-repo`):
// they work, but `mesh help` does not list them.
bool is_internal(const DaemonVerb& v);

// The closest known names to a typo (edit distance), best first, at most three.
std::vector<std::string> close_matches(const std::string& typo,
                                       const std::vector<std::string>& known);

// `mesh help [COMMAND]`, `mesh COMMAND --help`; also `mesh help --list` (command names, for
// completion) and `mesh help --flags COMMAND`.
int help(const Globals& g, const std::vector<Command>& cmds, const std::vector<std::string>& args);

// The answer to a command that is neither built in nor served by the daemon: exit 2 with
// suggestions, or, for a plugin verb remembered while the daemon is down, exit 1 "not running".
int unknown_command(const Globals& g, const std::string& name, const std::vector<Command>& cmds,
                    const VerbList& verbs);

// An unknown option before the command (`mesh --bogus status`): exit 2 with suggestions.
int unknown_option(const std::string& option);

}  // namespace mesh::cli
