#include "run_status.hpp"

namespace mesh::ci {

boost::json::object run_status_json(const RunState& run,
                                    const std::function<std::string(std::string_view)>& node_name) {
  boost::json::object o;
  o["id"] = run.id;
  o["repo"] = run.spec.repo;
  o["ref"] = run.spec.ref;
  o["sha"] = run.spec.sha;
  o["trigger"] = run.spec.trigger;
  o["state"] = to_string(run.phase);
  o["reason"] = run.reason;
  if (const Attempt* a = run.current()) {
    o["runner"] = boost::json::object{{"name", node_name(a->node)}, {"id", a->node}};
  } else {
    o["runner"] = nullptr;
  }
  o["created_ms"] = run.created_ms;
  boost::json::array jobs;
  for (const auto& j : run.jobs) {
    boost::json::object x;
    x["name"] = j.name;
    x["state"] = to_string(j.phase);
    if (j.exit_code) {
      x["exit_code"] = *j.exit_code;
    } else {
      x["exit_code"] = nullptr;
    }
    x["started_ms"] = j.started_ms;
    x["ended_ms"] = j.ended_ms;
    jobs.push_back(std::move(x));
  }
  o["jobs"] = std::move(jobs);
  return o;
}

}  // namespace mesh::ci
