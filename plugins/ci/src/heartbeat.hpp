// The ci plugin's part of every heartbeat (peers see it as plugins.ci in peers_json):
//   {"v":1,"load":0.25,"runners":[{"name":"shell","modes":["shell"],"labels":["linux"],
//    "slots":2,"free":1}]}
// and the host's runners_json, both into RunnerInfo.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "assignment.hpp"
#include "result.hpp"

namespace mesh::ci {

// At most limits::kHeartbeatBytes; runners beyond what fits are left out.
std::string heartbeat_part_json(const std::vector<RunnerInfo>& runners, double load);

// A member's part: validated (names, modes, labels, 1..64 slots, free <= slots, at most 16
// runners, load 0..1000). The id and up state come from peers_json, not from here.
Result<NodeInfo> parse_heartbeat_part(const boost::json::value& part);

// The host's runners_json: [{"name","plugin","modes":[..],"labels":[..],"slots","free"}].
Result<std::vector<RunnerInfo>> parse_runners_json(std::string_view json);

}  // namespace mesh::ci
