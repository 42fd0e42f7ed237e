// Core views that include what a plugin knows (e.g. `mesh status` lists the replication
// plugin's repos): the core asks the plugin's own verb, so no plugin data model leaks into core.
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mesh::app {

struct Daemon;

// Runs `verb` (with --json) if some plugin registered it and hands its parsed output to
// `then` (from any thread); nullopt if the verb is missing, failed or answered non-JSON.
void ask_plugin(const Daemon& d, std::string verb, std::vector<std::string> args,
                std::function<void(std::optional<boost::json::value>)> then);

}  // namespace mesh::app
