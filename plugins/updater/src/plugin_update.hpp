// The daemon side of `mesh update` (the CLI side, and the watchdog that restarts the daemon,
// are in cli/update_commands.cpp). Runs on a thread of its own: downloads take long.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "plugin_context.hpp"

namespace mesh::updater {

struct UpdateArgs {
  bool check = false;
  bool force = false;
  bool rollback = false;
  bool progress = false;  // the CLI shows a progress line (a terminal)
  std::optional<std::string> ref;
  std::optional<std::string> from;
};

// Parses the verb's arguments; the error is a usage message.
Result<UpdateArgs> parse_update_args(const std::vector<std::string_view>& args);
extern const char* const kUpdateUsage;

struct VerbReply {
  int exit_code = 0;
  std::string output;
  std::function<void()> after;  // runs once the reply has been handed to the host
};

// Runs one `mesh update` call. chunk() streams progress text to the CLI.
VerbReply run_update(PluginContext& ctx, const UpdateArgs& args, bool json,
                     const std::function<void(const std::string&)>& chunk);

}  // namespace mesh::updater
