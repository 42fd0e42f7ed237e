// What the ci glue needs from its node, as an interface: the plugin implements it with the ABI
// (plugin.cpp), the tests with a simulated mesh of several nodes (tests/sim_mesh.hpp). Every
// function may be called with the glue's lock held, so none of them may call back into the
// glue synchronously (the ABI promises that of the host).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "assignment.hpp"
#include "result.hpp"

namespace mesh::ci {

enum class Level { debug, info, warn, error };

// Another member, from peers_json: who it is, whether it is up, and its ci heartbeat part.
struct Member {
  std::string id;
  std::string name;
  bool up = false;
  std::optional<NodeInfo> ci;  // nullopt: its heartbeat has no (valid) ci part
};

struct LocalRunners {
  std::vector<RunnerInfo> runners;
  bool enabled = false;  // [runner] enabled: false, the host refuses every job
};

// How a job ended (the ABI's MESH_JOB_*).
enum class JobOutcome : std::uint32_t { passed, failed, cancelled, timed_out, error };

// A job for a runner of this node. Secrets travel by name only: the host resolves them from
// <root>/secrets.yml and refuses a job that declares one it does not have.
struct JobSubmit {
  std::string run_id;
  std::string job_name;
  std::string repo;
  std::string sha;
  std::string mode;
  std::string image;
  std::string workdir;
  std::vector<std::string> commands;
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> secrets;
  std::uint64_t timeout_ms = 0;
};

struct SubmitResult {
  std::uint64_t id = 0;  // the host's job id, when it was accepted
  bool busy = false;     // refused only because the runner has no free slot: try again later
  std::string error;     // why it was refused (empty: accepted)
};

using JobLogFn = std::function<void(std::string_view data)>;
using JobDoneFn =
    std::function<void(JobOutcome outcome, std::int32_t exit_code, std::string reason)>;

class Env {
 public:
  virtual ~Env() = default;

  virtual void log(Level level, const std::string& message) = 0;
  // Stored topics return once the event is in this node's feed; false with *error otherwise.
  virtual bool publish(std::string_view topic, const std::string& payload, std::string* error) = 0;
  // Wall clock (records carry it) and a monotonic clock (timers and windows use it), in ms.
  virtual std::uint64_t now_ms() = 0;
  virtual std::uint64_t mono_ms() = 0;

  virtual std::vector<Member> members() = 0;  // the others, not this node
  // This node's runners as the host's runners_json shows them ([runner] policy applied:
  // labels added, free slots capped), and whether the node runs jobs at all.
  virtual LocalRunners local_runners() = 0;
  virtual double load() = 0;  // this node's load per core
  virtual void set_heartbeat(const std::string& json) = 0;

  // Hands a job to a runner of this node. on_log then on_done (once) follow, from any thread,
  // possibly while submit_job still runs (the glue's lock orders them after it).
  virtual SubmitResult submit_job(const std::string& runner, const JobSubmit& job, JobLogFn on_log,
                                  JobDoneFn on_done) = 0;
  virtual void cancel_job(std::uint64_t job_id) = 0;

  // A pending CLI call: more output (false once the client has gone), and its one answer.
  virtual bool cli_chunk(std::uint64_t call, const std::string& text) = 0;
  virtual void cli_respond(std::uint64_t call, int exit_code, const std::string& output) = 0;

  // A mustache template with a JSON context (the host's ui_render: HTML-escaped by default,
  // with "mesh": {"csrf", ...} added). False with *error when the host has no web layer.
  virtual bool render(std::string_view tmpl, const std::string& context_json, std::string* out,
                      std::string* error) = 0;
  // A live update for the web pages (no-op where there is no web layer).
  virtual void sse(const std::string& channel, const std::string& event,
                   const std::string& data) = 0;
};

}  // namespace mesh::ci
