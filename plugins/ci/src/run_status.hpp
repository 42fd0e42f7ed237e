// A run as `mesh ci status --json` shows it (CLI.md): the keys are a contract.
#pragma once

#include <boost/json/object.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "run_state.hpp"

namespace mesh::ci {

// {"id","repo","ref","sha","trigger","state","reason","runner":{"name","id"} or null,
//  "created_ms","jobs":[{"name","state","exit_code","started_ms","ended_ms"}]}
// node_name maps a node id to its roster name (or returns the id itself).
boost::json::object run_status_json(const RunState& run,
                                    const std::function<std::string(std::string_view)>& node_name);

}  // namespace mesh::ci
