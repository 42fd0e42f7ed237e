// mesh/plugin_jobs.hpp — optional header-only C++17 helper for the ABI 1.3 runner registry.
//
// A runner plugin:
//
//   class MyRunner : public mesh::sdk::Plugin {
//     mesh::sdk::Runner runner_;   // a member: its address is what the host calls back
//    public:
//     void start() override {
//       runner_.add(host(), {"mine", {"shell"}, {"linux"}, 2},
//                   [](const mesh::sdk::Job& job) {          // on a job thread of its own
//                     job.log("hello\n");
//                     job.done(mesh::sdk::JobOutcome::passed, 0);
//                   },
//                   [](uint64_t job_id) { /* signal the job to stop */ });
//     }
//   };
//
// An orchestrator (the ci plugin) hands jobs to the runners of its node with JobClient.
// Both put an exception barrier on every callback: a run() that throws ends its job with
// MESH_JOB_ERROR and the exception's message.
#ifndef MESH_PLUGIN_JOBS_HPP
#define MESH_PLUGIN_JOBS_HPP

#include <cstdint>
#include <cstring>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mesh/plugin.hpp"

namespace mesh::sdk {

enum class JobOutcome : uint32_t {
  passed = MESH_JOB_PASSED,
  failed = MESH_JOB_FAILED,
  cancelled = MESH_JOB_CANCELLED,
  timed_out = MESH_JOB_TIMED_OUT,
  error = MESH_JOB_ERROR,
};

inline bool host_has_jobs(const Host& host) noexcept {
  const mesh_host* h = host.raw();
  return h && MESH_HAS_FIELD(h, mesh_host, job_cancel) && h->runner_register && h->job_log &&
         h->job_done && h->runners_json && h->job_submit && h->job_cancel;
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

// A job handed to a runner, valid for the duration of run(): copy what you keep.
class Job {
 public:
  Job(Host host, const mesh_job* j) noexcept : host_(host), j_(j) {}

  uint64_t id() const noexcept { return j_->job_id; }
  std::string_view run_id() const noexcept { return view(j_->run_id); }
  std::string_view job_name() const noexcept { return view(j_->job_name); }
  std::string_view repo() const noexcept { return view(j_->repo); }
  std::string_view sha() const noexcept { return view(j_->sha); }
  std::string_view mode() const noexcept { return view(j_->mode); }
  std::string_view image() const noexcept { return view(j_->image); }
  std::string_view workdir() const noexcept { return view(j_->workdir); }
  uint64_t timeout_ms() const noexcept { return j_->timeout_ms; }

  std::vector<std::string> commands() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < j_->command_count; ++i) out.emplace_back(view(j_->commands[i]));
    return out;
  }
  // The environment besides secrets, and the declared secrets (never put these on a command
  // line: pass them in the environment or an env file).
  Pairs env() const { return pairs(j_->env, j_->env_count); }
  Pairs secrets() const { return pairs(j_->secrets, j_->secret_count); }

  // Output of the job; split into calls of at most 64 KiB. MESH_E_NOT_FOUND once it ended.
  int32_t log(std::string_view data) const noexcept {
    const mesh_host* h = host_.raw();
    if (!host_has_jobs(host_)) return MESH_E_UNSUPPORTED;
    constexpr size_t kChunk = 64 * 1024;
    for (size_t off = 0; off < data.size(); off += kChunk) {
      int32_t rc = h->job_log(h->ctx, j_->job_id, view(data.substr(off, kChunk)));
      if (rc != MESH_OK) return rc;
    }
    return MESH_OK;
  }
  // Ends the job (once).
  int32_t done(JobOutcome outcome, int32_t exit_code, std::string_view reason = {}) const noexcept {
    const mesh_host* h = host_.raw();
    if (!host_has_jobs(host_)) return MESH_E_UNSUPPORTED;
    return h->job_done(h->ctx, j_->job_id, static_cast<uint32_t>(outcome), exit_code, view(reason));
  }
  const mesh_job* raw() const noexcept { return j_; }

 private:
  static Pairs pairs(const mesh_kv* kv, size_t n) {
    Pairs out;
    for (size_t i = 0; i < n; ++i) out.emplace_back(view(kv[i].name), view(kv[i].value));
    return out;
  }
  Host host_;
  const mesh_job* j_;
};

struct RunnerSpec {
  std::string name;
  std::vector<std::string> modes;
  std::vector<std::string> labels;
  uint32_t slots = 1;
};

using RunHandler = std::function<void(const Job&)>;
using CancelHandler = std::function<void(uint64_t job_id)>;

// One registered runner. Keep it alive (a member of your plugin) until destroy: the host calls
// back through its address. The host removes the runner when the plugin stops.
class Runner {
 public:
  Runner() = default;
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Registers the runner; throws Error when the host refuses (name taken, bad spec, an older
  // host: MESH_E_UNSUPPORTED).
  void add(const Host& host, RunnerSpec spec, RunHandler run, CancelHandler cancel) {
    if (!host_has_jobs(host))
      throw Error(MESH_E_UNSUPPORTED, "the host does not offer runners (ABI 1.3)");
    host_ = host;
    spec_ = std::move(spec);
    run_ = std::move(run);
    cancel_ = std::move(cancel);
    std::vector<mesh_str> modes, labels;
    for (const auto& m : spec_.modes) modes.push_back(view(m));
    for (const auto& l : spec_.labels) labels.push_back(view(l));
    mesh_runner r{};
    r.struct_size = sizeof r;
    r.name = view(spec_.name);
    r.modes = modes.data();
    r.mode_count = modes.size();
    r.labels = labels.data();
    r.label_count = labels.size();
    r.slots = spec_.slots;
    r.run = &run_tramp;
    r.cancel = &cancel_tramp;
    r.user = this;
    char err[MESH_ERR_CAP] = {0};
    const mesh_host* h = host.raw();
    int32_t rc = h->runner_register(h->ctx, &r, err, sizeof err);
    if (rc != MESH_OK)
      throw Error(rc, "runner " + spec_.name + " refused (code " + std::to_string(rc) + ")" +
                          (*err ? std::string(": ") + err : std::string()));
  }
  const RunnerSpec& spec() const noexcept { return spec_; }

 private:
  static void run_tramp(void* user, const mesh_job* job) noexcept {
    auto* self = static_cast<Runner*>(user);
    if (!self || !job || !MESH_HAS_FIELD(job, mesh_job, timeout_ms)) return;
    Job j(self->host_, job);
    char buf[MESH_ERR_CAP];
    int n = 0;
    try {
      self->run_(j);
      return;
    } catch (const std::exception& e) {
      n = std::snprintf(buf, sizeof buf, "runner %s threw: %s", self->spec_.name.c_str(), e.what());
    } catch (...) {
      n = std::snprintf(buf, sizeof buf, "runner %s threw an unknown exception",
                        self->spec_.name.c_str());
    }
    self->host_.error(std::string_view(buf, n < 0 ? 0 : std::min<size_t>(n, sizeof buf - 1)));
    (void)j.done(JobOutcome::error, -1,
                 std::string_view(buf, n < 0 ? 0 : std::min<size_t>(n, sizeof buf - 1)));
  }
  static void cancel_tramp(void* user, uint64_t job_id) noexcept {
    auto* self = static_cast<Runner*>(user);
    if (!self) return;
    try {
      self->cancel_(job_id);
    } catch (...) {
      self->host_.error("runner cancel threw");
    }
  }

  Host host_;
  RunnerSpec spec_;
  RunHandler run_;
  CancelHandler cancel_;
};

// What an orchestrator submits (the strings are copied by the host).
struct JobRequest {
  std::string run_id;
  std::string job_name;
  std::string repo;
  std::string sha;
  std::string mode;
  std::string image;
  std::string workdir;
  std::vector<std::string> commands;
  Pairs env;
  Pairs secrets;
  uint64_t timeout_ms = 0;
};

using JobLogHandler = std::function<void(uint64_t job_id, std::string_view data)>;
using JobDoneHandler = std::function<void(uint64_t job_id, JobOutcome outcome, int32_t exit_code,
                                          std::string_view reason)>;

// Submits jobs to this node's runners. Keep it alive (a member) until destroy: the host calls
// back through the sinks it holds. Callbacks run on the plugin executor, in order per job.
class JobClient {
 public:
  JobClient() = default;
  JobClient(const JobClient&) = delete;
  JobClient& operator=(const JobClient&) = delete;

  // The runners on this node (JSON array; see mesh_host.runners_json).
  std::string runners_json(const Host& host) const {
    const mesh_host* h = host.raw();
    if (!host_has_jobs(host)) throw Error(MESH_E_UNSUPPORTED, "the host does not offer runners");
    std::string buf(1024, '\0');
    for (int attempt = 0; attempt < 4; ++attempt) {
      size_t needed = 0;
      int32_t rc = h->runners_json(h->ctx, buf.data(), buf.size(), &needed);
      if (rc == MESH_OK) {
        buf.resize(needed);
        return buf;
      }
      if (rc != MESH_E_LIMIT || needed > (16u << 20)) throw Error(rc, "runners_json refused");
      buf.assign(needed + 1, '\0');
    }
    throw Error(MESH_E_LIMIT, "runners_json keeps growing");
  }

  // Starts a job on the named runner. Returns the host's job id; throws Error when refused
  // (MESH_E_NOT_FOUND no such runner, MESH_E_LIMIT no free slot, MESH_E_INVALID bad job).
  uint64_t submit(const Host& host, std::string_view runner, const JobRequest& req,
                  JobLogHandler on_log, JobDoneHandler on_done) {
    const mesh_host* h = host.raw();
    if (!host_has_jobs(host)) throw Error(MESH_E_UNSUPPORTED, "the host does not offer runners");
    std::vector<mesh_str> cmds;
    for (const auto& c : req.commands) cmds.push_back(view(c));
    std::vector<mesh_kv> env, sec;
    for (const auto& [n, v] : req.env) env.push_back({view(n), view(v)});
    for (const auto& [n, v] : req.secrets) sec.push_back({view(n), view(v)});
    mesh_job j{};
    j.struct_size = sizeof j;
    j.run_id = view(req.run_id);
    j.job_name = view(req.job_name);
    j.repo = view(req.repo);
    j.sha = view(req.sha);
    j.mode = view(req.mode);
    j.image = view(req.image);
    j.workdir = view(req.workdir);
    j.commands = cmds.data();
    j.command_count = cmds.size();
    j.env = env.data();
    j.env_count = env.size();
    j.secrets = sec.data();
    j.secret_count = sec.size();
    j.timeout_ms = req.timeout_ms;
    Slot* slot = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      slots_.push_back(Slot{this, std::move(on_log), std::move(on_done)});
      slot = &slots_.back();
    }
    mesh_job_sink sink{};
    sink.struct_size = sizeof sink;
    sink.log = &log_tramp;
    sink.done = &done_tramp;
    sink.user = slot;
    uint64_t id = 0;
    char err[MESH_ERR_CAP] = {0};
    int32_t rc = h->job_submit(h->ctx, view(runner), &j, &sink, &id, err, sizeof err);
    if (rc != MESH_OK) {
      forget(slot);
      throw Error(rc, "job refused by runner " + std::string(runner) + " (code " +
                          std::to_string(rc) + ")" + (*err ? std::string(": ") + err : ""));
    }
    return id;
  }

  int32_t cancel(const Host& host, uint64_t job_id) const noexcept {
    const mesh_host* h = host.raw();
    if (!host_has_jobs(host)) return MESH_E_UNSUPPORTED;
    return h->job_cancel(h->ctx, job_id);
  }

 private:
  struct Slot {
    JobClient* self;
    JobLogHandler on_log;
    JobDoneHandler on_done;
  };
  void forget(Slot* slot) {
    std::lock_guard<std::mutex> lock(mu_);
    slots_.remove_if([slot](const Slot& s) { return &s == slot; });
  }
  static void log_tramp(void* user, uint64_t job_id, mesh_str data) noexcept {
    auto* slot = static_cast<Slot*>(user);
    if (!slot || !slot->on_log) return;
    try {
      slot->on_log(job_id, view(data));
    } catch (...) {
    }
  }
  static void done_tramp(void* user, uint64_t job_id, uint32_t outcome, int32_t exit_code,
                         mesh_str reason) noexcept {
    auto* slot = static_cast<Slot*>(user);
    if (!slot) return;
    try {
      if (slot->on_done)
        slot->on_done(job_id, static_cast<JobOutcome>(outcome), exit_code, view(reason));
    } catch (...) {
    }
    slot->self->forget(slot);  // done is the last call for this sink
  }

  std::mutex mu_;
  std::list<Slot> slots_;  // stable addresses handed to the host
};

}  // namespace mesh::sdk

#endif  // MESH_PLUGIN_JOBS_HPP
