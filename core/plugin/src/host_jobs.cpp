// Host functions for the runner registry of ABI 1.3, onto jobs::Registry (owner = the plugin
// id). Runners register and report; orchestrators submit by secret NAME, and the host takes the
// values from <root>/secrets.yml, builds the environment ([runner] env_passthrough) and enforces
// the [runner] policy. A submitter's sink calls run on its own executor, in order.
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <deque>

#include "host_api.hpp"
#include "job_host.hpp"
#include "runtime.hpp"

namespace mesh::plugin {

namespace {

constexpr std::size_t kMaxJobItem = 1u << 20;  // any one string of a submitted job
constexpr std::size_t kMaxJobItems = 256;      // commands, env entries (secrets: 64)

bool readable(mesh_str s) {
  return s.len == 0 || s.ptr != nullptr;
}

bool copy_text(mesh_str s, std::string& out) {
  if (!readable(s) || s.len > kMaxJobItem) return false;
  out.assign(as_view(s));
  return true;
}

std::vector<std::string> copy_list(const mesh_str* items, size_t n, bool* ok) {
  std::vector<std::string> out;
  if (n && !items) return *ok = false, out;
  for (size_t i = 0; i < n; ++i) {
    if (!readable(items[i]) || items[i].len > kMaxJobItem) return *ok = false, out;
    out.emplace_back(as_view(items[i]));
  }
  return out;
}

std::string jobs_message(const Error& e) {
  return sanitize(e.message, kMaxErrorBytes);
}

// What a submitter hears of one job. The registry calls log()/done() in order and never at once
// for one job; they are queued here and drained on the submitter's executor by one callback at
// a time, so the plugin sees them in the same order. Until job_submit has the job's id (the
// runner may report before submit returns) they wait.
struct JobDelivery : std::enable_shared_from_this<JobDelivery> {
  std::weak_ptr<Runtime> rt;
  mesh_job_sink sink{};
  std::uint64_t max_bytes = 0;

  struct Item {
    bool done = false;
    std::string data;  // log chunk, or done's reason
    std::uint32_t outcome = 0;
    std::int32_t exit_code = 0;
  };
  std::mutex mu;
  std::uint64_t id = 0;
  bool ready = false;     // id is known
  bool draining = false;  // a drain is queued or running
  bool gone = false;      // the submitter stopped: nothing is kept any more
  std::deque<Item> items;
  std::uint64_t sent = 0, dropped = 0;

  void log(std::string chunk) {
    std::unique_lock lock(mu);
    if (gone) return;
    if (dropped > 0) {
      dropped += chunk.size();
      return;
    }
    if (sent + chunk.size() > max_bytes) {
      std::uint64_t keep = max_bytes - sent;
      dropped = chunk.size() - keep;
      chunk.resize(keep);
      chunk += "\n[mesh: this job's output reached [runner] job_log_max_bytes (" +
               std::to_string(max_bytes) + " bytes); the rest is not kept]\n";
    }
    sent += chunk.size();
    items.push_back({false, std::move(chunk), 0, 0});
    kick(lock);
  }

  void done(jobs::Outcome outcome, int exit_code, std::string reason) {
    std::unique_lock lock(mu);
    if (gone) return;
    if (dropped > 0)
      items.push_back(
          {false, "[mesh: " + std::to_string(dropped) + " bytes of output were dropped]\n", 0, 0});
    items.push_back({true, std::move(reason), static_cast<std::uint32_t>(outcome), exit_code});
    kick(lock);
  }

  void set_id(std::uint64_t job_id) {
    std::unique_lock lock(mu);
    id = job_id;
    ready = true;
    kick(lock);
  }

  // Under mu: starts a drain unless one is under way (it picks the new item up).
  void kick(std::unique_lock<std::mutex>& lock) {
    if (!ready || draining || items.empty()) return;
    draining = true;
    lock.unlock();
    auto r = rt.lock();
    bool posted =
        r && r->post_callback("a job sink", [self = shared_from_this()] { self->drain(); });
    if (!posted) {
      // The submitter stopped: nobody hears of this job any more.
      std::lock_guard relock(mu);
      items.clear();
      gone = true;
    }
  }

  // On the submitter's executor.
  void drain() {
    for (;;) {
      Item item;
      {
        std::lock_guard lock(mu);
        if (items.empty()) {
          draining = false;
          return;
        }
        item = std::move(items.front());
        items.pop_front();
      }
      if (item.done) {
        if (sink.done) sink.done(sink.user, id, item.outcome, item.exit_code, as_str(item.data));
      } else if (sink.log) {
        sink.log(sink.user, id, as_str(item.data));
      }
    }
  }
};

// The runner's view of a job while run() runs.
void call_run(void (*run)(void*, const mesh_job*), void* user, std::uint64_t job_id,
              const jobs::JobSpec& spec) {
  std::vector<mesh_str> cmds;
  for (const auto& c : spec.commands) cmds.push_back(as_str(c));
  std::vector<mesh_kv> env, sec;
  for (const auto& [n, v] : spec.env) env.push_back({as_str(n), as_str(v)});
  for (const auto& [n, v] : spec.secrets) sec.push_back({as_str(n), as_str(v)});
  mesh_job j{};
  j.struct_size = sizeof j;
  j.job_id = job_id;
  j.run_id = as_str(spec.run_id);
  j.job_name = as_str(spec.job_name);
  j.repo = as_str(spec.repo);
  j.sha = as_str(spec.sha);
  j.mode = as_str(spec.mode);
  j.image = as_str(spec.image);
  j.workdir = as_str(spec.workdir);
  j.commands = cmds.data();
  j.command_count = cmds.size();
  j.env = env.data();
  j.env_count = env.size();
  j.secrets = sec.data();
  j.secret_count = sec.size();
  j.timeout_ms = static_cast<std::uint64_t>(spec.timeout.count());
  run(user, &j);
}

std::shared_ptr<JobHost> job_host_of(Runtime* p, bool need_active, int32_t* rc) {
  std::lock_guard lock(p->mu);
  if (need_active ? p->phase != Phase::active : !p->usable_locked())
    return *rc = MESH_E_STATE, nullptr;
  if (!p->job_host) return *rc = MESH_E_UNSUPPORTED, nullptr;
  return p->job_host;
}

bool still_active(Runtime* p) {
  std::lock_guard lock(p->mu);
  return p->phase == Phase::active;
}

// The job as the host will hand it to the runner: copied, its secrets resolved from
// secrets.yml, its environment completed. *rc and err say why not.
std::optional<jobs::JobSpec> build_job(const JobHost& jh, const config::RunnerConfig& policy,
                                       const mesh_job* job, int32_t* rc, std::string* why) {
  auto refuse = [&](int32_t code, std::string msg) {
    *rc = code;
    *why = std::move(msg);
    return std::nullopt;
  };
  if (job->command_count > kMaxJobItems || job->env_count > kMaxJobItems || job->secret_count > 64)
    return refuse(MESH_E_LIMIT, "too many commands, environment entries or secrets");
  jobs::JobSpec spec;
  bool ok = copy_text(job->run_id, spec.run_id) && copy_text(job->job_name, spec.job_name) &&
            copy_text(job->repo, spec.repo) && copy_text(job->sha, spec.sha) &&
            copy_text(job->mode, spec.mode) && copy_text(job->image, spec.image) &&
            copy_text(job->workdir, spec.workdir);
  if (ok) spec.commands = copy_list(job->commands, job->command_count, &ok);
  jobs::Pairs own_env;
  if (ok && job->env_count && !job->env) ok = false;
  for (size_t i = 0; ok && i < job->env_count; ++i) {
    std::string n, v;
    ok = copy_text(job->env[i].name, n) && copy_text(job->env[i].value, v);
    own_env.emplace_back(std::move(n), std::move(v));
  }
  if (ok && job->secret_count && !job->secrets) ok = false;
  std::vector<std::string> declared;
  for (size_t i = 0; ok && i < job->secret_count; ++i) {
    std::string n;
    ok = copy_text(job->secrets[i].name, n);
    declared.push_back(std::move(n));
  }
  if (!ok) return refuse(MESH_E_INVALID, "a null or oversized string in the job");
  if (job->timeout_ms > static_cast<std::uint64_t>(7) * 24 * 3600 * 1000)
    return refuse(MESH_E_INVALID, "a job's timeout is at most 7 days");
  spec.timeout = std::chrono::milliseconds(job->timeout_ms);
  if (!policy.modes.empty() &&
      std::find(policy.modes.begin(), policy.modes.end(), spec.mode) == policy.modes.end())
    return refuse(MESH_E_INVALID,
                  "mode '" + spec.mode.substr(0, 32) + "' is not allowed by [runner] modes here");

  // Secrets: by name only; the values come from this node's secrets.yml.
  if (!declared.empty()) {
    if (jh.secrets_file.empty()) return refuse(MESH_E_NOT_FOUND, "this node has no secrets.yml");
    auto file = jobs::load_secrets_file(jh.secrets_file, jh.environment);
    if (!file) return refuse(MESH_E_INVALID, jobs_message(file.error()));
    for (const auto& name : declared) {
      if (!jobs::valid_secret_name(name))
        return refuse(MESH_E_INVALID, "'" + name.substr(0, 64) + "' is not a secret name");
      for (const auto& [n, v] : own_env)
        if (n == name)
          return refuse(MESH_E_INVALID, "secret " + name + " is also a variable of the job's env");
      auto it = file->find(name);
      if (it == file->end())
        return refuse(MESH_E_NOT_FOUND,
                      "secret " + name + " is not defined in secrets.yml on this node");
      if (!it->second.unavailable.empty()) return refuse(MESH_E_NOT_FOUND, it->second.unavailable);
      spec.secrets.emplace_back(name, it->second.value);
    }
  }
  spec.env = jobs::job_environment(own_env, policy.env_passthrough, jh.environment);
  // A declared secret is only ever the secrets.yml value, never a same-named daemon variable.
  std::erase_if(spec.env, [&](const auto& kv) {
    return std::find(declared.begin(), declared.end(), kv.first) != declared.end();
  });
  return spec;
}

}  // namespace

bool Runtime::post_callback(const char* what, std::function<void()> fn) {
  std::lock_guard lock(mu);
  if (phase != Phase::active) return false;
  ++queued;
  asio::post(*executor, [self = shared_from_this(), what, fn = std::move(fn)] {
    self->run_callback(what, fn);
  });
  return true;
}

std::string JobHost::runners_json() const {
  auto p = policy();
  auto list = registry.runners();
  std::size_t running = registry.jobs().size();
  unsigned node_free = running >= p.max_concurrent_jobs
                           ? 0u
                           : static_cast<unsigned>(p.max_concurrent_jobs - running);
  boost::json::array out;
  for (const auto& r : list) {
    boost::json::array modes, labels;
    for (const auto& m : r.modes)
      if (p.modes.empty() || std::find(p.modes.begin(), p.modes.end(), m) != p.modes.end())
        modes.emplace_back(m);
    if (modes.empty()) continue;  // the policy allows none of its modes
    for (const auto& l : r.labels) labels.emplace_back(l);
    for (const auto& l : p.labels)
      if (std::find(r.labels.begin(), r.labels.end(), l) == r.labels.end()) labels.emplace_back(l);
    out.push_back(boost::json::object{{"name", r.name},
                                      {"plugin", r.owner},
                                      {"modes", std::move(modes)},
                                      {"labels", std::move(labels)},
                                      {"slots", r.slots},
                                      {"free", p.enabled ? std::min(r.free, node_free) : 0u},
                                      {"enabled", p.enabled}});
  }
  return boost::json::serialize(out);
}

namespace host {

int32_t runner_register(void* ctx, const mesh_runner* runner, char* err, size_t err_cap) {
  return guarded(ctx, err, err_cap, [&](Runtime* p) {
    if (!runner || !MESH_HAS_FIELD(runner, mesh_runner, user))
      return set_err(err, err_cap, "no runner, or an older struct"), MESH_E_INVALID;
    if (!runner->run || !runner->cancel)
      return set_err(err, err_cap, "a runner needs run and cancel"), MESH_E_INVALID;
    if (runner->mode_count > 16 || runner->label_count > 32)
      return set_err(err, err_cap, "at most 16 modes and 32 labels"), MESH_E_LIMIT;
    int32_t rc = MESH_OK;
    auto jh = job_host_of(p, true, &rc);
    if (!jh) return set_err(err, err_cap, "no runner registry here, or stopping"), rc;
    jobs::Runner r;
    bool ok = copy_text(runner->name, r.name) && runner->name.len <= 32;
    if (ok) r.modes = copy_list(runner->modes, runner->mode_count, &ok);
    if (ok) r.labels = copy_list(runner->labels, runner->label_count, &ok);
    if (!ok)
      return set_err(err, err_cap, "a null or oversized name, mode or label"), MESH_E_INVALID;
    r.owner = p->id;
    r.slots = runner->slots;
    auto run_fn = runner->run;
    auto cancel_fn = runner->cancel;
    void* user = runner->user;
    r.run = [run_fn, user](std::uint64_t id, const jobs::JobSpec& spec) {
      call_run(run_fn, user, id, spec);
    };
    r.cancel = [cancel_fn, user](std::uint64_t id) { cancel_fn(user, id); };
    std::string name = r.name;
    if (auto st = jh->registry.add_runner(std::move(r)); !st)
      return set_err(err, err_cap, jobs_message(st.error())), code_of(st.error().code);
    if (!still_active(p)) {  // stopped meanwhile: drop_services() may already have run
      (void)jh->registry.remove_runner(name, p->id);
      return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
    }
    p->log(spdlog::level::info, "runner '" + name + "' registered");
    return MESH_OK;
  });
}

int32_t runner_unregister(void* ctx, mesh_str name) {
  return guarded(ctx, [&](Runtime* p) {
    if (!readable(name) || name.len > 32) return MESH_E_INVALID;
    int32_t rc = MESH_OK;
    auto jh = job_host_of(p, false, &rc);
    if (!jh) return rc;
    auto st = jh->registry.remove_runner(as_view(name), p->id);
    return st ? MESH_OK : code_of(st.error().code);
  });
}

int32_t job_log(void* ctx, uint64_t job_id, mesh_str data) {
  return guarded(ctx, [&](Runtime* p) {
    if (!readable(data)) return MESH_E_INVALID;
    if (data.len > 64 * 1024) return MESH_E_LIMIT;
    int32_t rc = MESH_OK;
    auto jh = job_host_of(p, false, &rc);
    if (!jh) return rc;
    auto st = jh->registry.log(job_id, as_view(data), p->id);
    return st ? MESH_OK : code_of(st.error().code);
  });
}

int32_t job_done(void* ctx, uint64_t job_id, uint32_t outcome, int32_t exit_code, mesh_str reason) {
  return guarded(ctx, [&](Runtime* p) {
    if (!readable(reason)) return MESH_E_INVALID;
    if (outcome > MESH_JOB_ERROR) return MESH_E_INVALID;
    int32_t rc = MESH_OK;
    auto jh = job_host_of(p, false, &rc);
    if (!jh) return rc;
    std::string why = sanitize(as_view(reason).substr(0, 4096), 1024);
    auto st = jh->registry.finish(job_id, static_cast<jobs::Outcome>(outcome), exit_code,
                                  std::move(why), p->id);
    return st ? MESH_OK : code_of(st.error().code);
  });
}

int32_t runners_json(void* ctx, char* buf, size_t cap, size_t* needed) {
  return guarded(ctx, [&](Runtime* p) {
    int32_t rc = MESH_OK;
    auto jh = job_host_of(p, false, &rc);
    if (!jh) return rc;
    return copy_out(jh->runners_json(), buf, cap, needed);
  });
}

int32_t job_submit(void* ctx, mesh_str runner, const mesh_job* job, const mesh_job_sink* sink,
                   uint64_t* job_id, char* err, size_t err_cap) {
  return guarded(ctx, err, err_cap, [&](Runtime* p) {
    if (!job || !MESH_HAS_FIELD(job, mesh_job, timeout_ms) || !sink ||
        !MESH_HAS_FIELD(sink, mesh_job_sink, user) || !job_id || !readable(runner))
      return set_err(err, err_cap, "null job, sink or job_id, or an older struct"), MESH_E_INVALID;
    int32_t rc = MESH_OK;
    auto jh = job_host_of(p, true, &rc);
    if (!jh) return set_err(err, err_cap, "no runner registry here, or stopping"), rc;
    auto policy = jh->policy();
    if (!policy.enabled)
      return set_err(err, err_cap,
                     "this node runs no jobs: [runner] enabled = false in mesh.toml (set it to "
                     "true and run `mesh reload` to opt in)"),
             MESH_E_STATE;
    std::string why;
    auto spec = build_job(*jh, policy, job, &rc, &why);
    if (!spec) return set_err(err, err_cap, why), rc;

    auto d = std::make_shared<JobDelivery>();
    d->rt = p->weak_from_this();
    d->sink = *sink;
    d->max_bytes = policy.job_log_max_bytes;
    jobs::Sink js;
    js.log = [d](std::string chunk) { d->log(std::move(chunk)); };
    js.done = [d](jobs::Outcome o, int code, std::string reason) {
      d->done(o, code, std::move(reason));
    };
    Result<std::uint64_t> id = make_error(Errc::internal, "");
    {
      std::lock_guard lock(jh->submit_mu);  // the node-wide cap and the submit it allows
      if (jh->registry.jobs().size() >= policy.max_concurrent_jobs)
        return set_err(err, err_cap,
                       "this node already runs [runner] max_concurrent_jobs = " +
                           std::to_string(policy.max_concurrent_jobs) + " jobs"),
               MESH_E_LIMIT;
      id = jh->registry.submit(as_view(runner), std::move(*spec), std::move(js), p->id);
    }
    if (!id) return set_err(err, err_cap, jobs_message(id.error())), code_of(id.error().code);
    *job_id = *id;
    d->set_id(*id);
    // Stopped meanwhile: drop_services() may have cancelled this plugin's jobs before this one.
    if (!still_active(p)) (void)jh->registry.cancel(*id, p->id);
    return MESH_OK;
  });
}

int32_t job_cancel(void* ctx, uint64_t job_id) {
  return guarded(ctx, [&](Runtime* p) {
    int32_t rc = MESH_OK;
    auto jh = job_host_of(p, false, &rc);
    if (!jh) return rc;
    auto st = jh->registry.cancel(job_id, p->id);
    return st ? MESH_OK : code_of(st.error().code);
  });
}

}  // namespace host
}  // namespace mesh::plugin
