// The plugin manager: brings the running set of plugins in line with the config (load, create,
// start; stop, destroy) and reports their state. The Runtime (runtime.hpp) is one running
// plugin; the loader (loader.hpp) maps a library and negotiates its ABI.
#include "mesh/plugin/manager.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>

#include "git_tls.hpp"
#include "job_host.hpp"
#include "loader.hpp"
#include "mesh/base/files.hpp"
#include "runtime.hpp"
#include "serial_worker.hpp"

namespace mesh::plugin {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxWaitingReloads = 4;

// A plugin's stop, run on a thread of its own so that its caller can stop waiting.
struct StopCall {
  std::string id;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;     // shutdown() returned
  bool overdue = false;  // the caller stopped waiting: the thread reports the end itself
};

}  // namespace

struct Manager::Impl {
  explicit Impl(HostServices s) : svc(std::move(s)) {
    if (!svc.peer_tls.cert_pem.empty()) {
      auto c = http::PeerConnector::create(svc.peer_tls, svc.is_member);
      if (c)
        connector = std::move(*c);
      else
        spdlog::warn("plugins get no peer connections: {}", c.error().message);
    }
    if (connector) {
      auto g = GitTlsStream::install(connector);
      if (g)
        git_tls = std::move(*g);
      else
        spdlog::warn("plugins' libgit2 gets no https to members: {}", g.error().message);
    }
  }

  HostServices svc;
  // Host work for plugins that runs none of their code (refusing a streamed call), so it is
  // done also for a plugin whose executor is busy or gone.
  asio::thread_pool host_pool{1};
  std::atomic<std::uint64_t> ids{1};
  std::shared_ptr<const http::PeerConnector> connector;  // null: peer_connect unsupported
  std::unique_ptr<GitTlsStream> git_tls;  // libgit2's https:// for every plugin (git_tls.hpp)
  std::shared_ptr<Beats> beats = std::make_shared<Beats>();
  std::shared_ptr<Sections> sections = std::make_shared<Sections>();
  // The runner registry and its policy, shared by every plugin of this node.
  std::shared_ptr<JobHost> job_host = std::make_shared<JobHost>(
      svc.runner, svc.secrets_file,
      svc.environment ? jobs::EnvLookup(svc.environment) : jobs::process_environment());

  std::mutex apply_mu;                                // one apply/stop_all at a time
  std::vector<boost::dll::shared_library> libraries;  // never unloaded while we live
  std::vector<std::shared_ptr<Runtime>> graveyard;    // stopped runtimes (stale ctx safety)
  std::vector<std::shared_ptr<Runtime>> running;      // in start order
  std::vector<std::shared_ptr<StopCall>> late_stops;  // stops that overran their deadline
  config::PluginsConfig last;                         // what the latest apply asked for
  std::vector<std::string> failed;                    // ids that failed during this apply
  bool all_stopped = false;                           // stop_all ran: no more loads

  mutable std::mutex info_mu;
  std::vector<PluginInfo> infos;
  // The running runtimes by id, for list(): readable while apply holds apply_mu.
  std::map<std::string, std::weak_ptr<Runtime>> live;
  std::set<std::string> stopping;  // ids whose stop() overran its deadline and still runs

  // Reloads, and re-applies after late stops. Last: its jobs use everything above.
  SerialWorker worker{kMaxWaitingReloads};

  PluginInfo& info_locked(const std::string& id) {
    for (auto& i : infos)
      if (i.id == id) return i;
    PluginInfo fresh;
    fresh.id = id;
    fresh.state = "stopped";
    infos.push_back(std::move(fresh));
    return infos.back();
  }

  void set_info(const std::string& id, const std::function<void(PluginInfo&)>& fn) {
    std::lock_guard lock(info_mu);
    fn(info_locked(id));
  }

  void fail(const std::string& id, const std::string& what) {
    failed.push_back(id);
    std::string msg = "plugin '" + id + "': " + what;
    spdlog::error("{}", msg);
    set_info(id, [&](PluginInfo& i) {
      i.state = "failed";
      i.error = msg;
    });
  }

  std::shared_ptr<Runtime> find_running(const std::string& id) const {
    for (const auto& r : running)
      if (r->id == id) return r;
    return nullptr;
  }

  std::vector<fs::path> search_dirs(const config::PluginsConfig& cfg) const {
    std::vector<fs::path> dirs;
    for (const auto& p : cfg.paths) {
      // "~/..." is the natural way to write a per-user plugin directory in mesh.toml.
      const char* home = std::getenv("HOME");
      if (p.starts_with("~/") && home && *home)
        dirs.push_back(fs::path(home) / p.substr(2));
      else
        dirs.emplace_back(p);
    }
    for (const auto& p : svc.search_dirs) dirs.push_back(p);
    return dirs;
  }

  void load(const std::string& id, const config::PluginsConfig& cfg) {
    set_info(id, [&](PluginInfo& i) {
      i.enabled = true;
      i.error.clear();
    });
    if (!config::valid_plugin_id(id)) return fail(id, "invalid plugin id");

    {
      std::lock_guard lock(info_mu);
      if (stopping.count(id)) {
        spdlog::info("plugin '{}' is enabled but still stopping; it starts when its stop returns",
                     id);
        return;  // finish_stop() applies the config again
      }
    }
    Loaded lib = load_library(id, search_dirs(cfg), libraries, [this](const std::string& other) {
      std::lock_guard lock(info_mu);
      return find_running(other) || stopping.count(other) > 0;
    });
    set_info(id, [&](PluginInfo& i) {
      if (!lib.version.empty()) i.version = lib.version;
      if (!lib.abi.empty()) i.abi = lib.abi;
    });
    if (!lib.desc) return fail(id, lib.error);
    const mesh_plugin_descriptor* d = lib.desc;
    // Its settings, before any instance exists.
    if (auto why = check_settings(d, settings_for(id, cfg)); !why.empty())
      return fail(id, "settings refused: " + cfg.locate(id, why));

    // Its data directory.
    auto dir = svc.data_root / id;
    if (auto st = ensure_dir(dir); !st)
      return fail(id, "cannot create " + dir.string() + ": " + st.error().message);

    // create() and start(), each behind a catch-all.
    auto rt = std::make_shared<Runtime>(id, svc.io, cfg.executor_threads, host_pool, ids,
                                        svc.router, svc.verbs);
    rt->desc = d;
    rt->version = lib.version;
    rt->data_dir = fs::absolute(dir).string();
    rt->settings = settings_for(id, cfg);
    rt->bus = svc.bus;
    rt->event_timeout = svc.event_handler_timeout;
    rt->connector = connector;
    rt->beats = beats;
    rt->sections = sections;
    rt->site = svc.site;
    rt->job_host = job_host;
    if (!svc.repos_root.empty()) rt->repos_dir = fs::absolute(svc.repos_root).string();
    rt->init_host_table();
    graveyard.push_back(rt);

    char err[MESH_ERR_CAP] = {0};
    int32_t rc = MESH_E_INTERNAL;
    bool threw = false;
    try {
      rc = d->create(&rt->host, &rt->instance, err, sizeof err);
    } catch (...) {
      threw = true;
    }
    if (threw || rc != MESH_OK) {
      rt->shutdown(false, false);
      if (threw) return fail(id, "threw an exception across the ABI in create");
      return fail(id, "create failed: " + describe(rc, err));
    }

    std::memset(err, 0, sizeof err);
    threw = false;
    try {
      rc = d->start(rt->instance, err, sizeof err);
    } catch (...) {
      threw = true;
    }
    if (threw || rc != MESH_OK) {
      rt->shutdown(false, true);
      if (threw) return fail(id, "threw an exception across the ABI in start");
      return fail(id, "start failed: " + describe(rc, err));
    }

    running.push_back(rt);
    set_info(id, [&](PluginInfo& i) {
      i.state = "running";
      i.error.clear();
    });
    {
      std::lock_guard lock(info_mu);
      live[id] = rt;
    }
    spdlog::info("plugin '{}' {} started (ABI {})", id, lib.version,
                 abi_text(d->abi_major, d->abi_minor));
  }

  // Every enabled plugin's check of its settings in cfg, located in mesh.toml. A plugin that
  // is not running is mapped (not created) to ask it; one that cannot be loaded is left to
  // apply, which reports why.
  std::vector<std::string> refusals(const config::PluginsConfig& cfg) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& id : cfg.enabled) {
      if (!seen.insert(id).second || !config::valid_plugin_id(id)) continue;
      const mesh_plugin_descriptor* d = nullptr;
      if (auto rt = find_running(id)) {
        d = rt->desc;
      } else {
        d = load_library(id, search_dirs(cfg), libraries, [](const std::string&) {
              return false;
            }).desc;
      }
      if (!d) continue;
      if (auto why = check_settings(d, settings_for(id, cfg)); !why.empty()) {
        out.push_back(cfg.locate(id, why));
        spdlog::warn("reload: {}", out.back());
      }
    }
    return out;
  }

  ApplyReport reload(const config::PluginsConfig& cfg) {
    std::lock_guard lock(apply_mu);
    if (all_stopped) return ApplyReport::refusal("the daemon is stopping");
    ApplyReport report;
    report.refused = refusals(cfg);
    if (!report.refused.empty()) return report;  // nothing changes
    return apply_locked(cfg);
  }

  static std::string settings_for(const std::string& id, const config::PluginsConfig& cfg) {
    auto it = cfg.settings.find(id);
    if (it == cfg.settings.end() || it->second.empty()) return "{}";
    if (it->second.size() > kMaxSettingsBytes) {
      spdlog::warn("plugin '{}': settings larger than {} bytes ignored", id, kMaxSettingsBytes);
      return "{}";
    }
    return it->second;
  }

  // Stops and destroys one plugin on a thread of its own and waits at most `deadline`. False if
  // it overran: the plugin stays "stopping" and finish_stop() reports the end.
  bool stop_one(const std::shared_ptr<Runtime>& rt, std::chrono::milliseconds deadline) {
    spdlog::info("plugin '{}' stopping", rt->id);
    std::erase(running, rt);
    {
      std::lock_guard lock(info_mu);
      live.erase(rt->id);
      info_locked(rt->id).state = "stopping";
    }
    auto call = std::make_shared<StopCall>();
    call->id = rt->id;
    call->thread = std::thread([this, rt, call] {
      rt->shutdown(true, true);
      finish_stop(call);
    });
    std::unique_lock lock(call->mu);
    auto done = [&] { return call->done; };
    if (deadline == std::chrono::milliseconds::max()) call->cv.wait(lock, done);
    if (call->cv.wait_for(lock,
                          deadline == std::chrono::milliseconds::max() ? deadline.zero() : deadline,
                          done)) {
      lock.unlock();
      call->thread.join();
      set_info(rt->id, [&](PluginInfo& i) {
        i.state = "stopped";
        i.error.clear();
      });
      return true;
    }
    // Under call->mu, so that finish_stop() (which needs it first) reports after us.
    call->overdue = true;
    std::string msg = "plugin '" + rt->id + "': stop() has not returned after " +
                      std::to_string(deadline.count()) +
                      " ms; it is stopped (and started again if enabled) when it returns";
    spdlog::warn("{}", msg);
    {
      std::lock_guard ilock(info_mu);
      stopping.insert(rt->id);
      auto& i = info_locked(rt->id);
      i.state = "stopping";
      i.error = msg;
    }
    late_stops.push_back(call);
    return false;
  }

  // On the stop's own thread, once the plugin's shutdown returned.
  void finish_stop(const std::shared_ptr<StopCall>& call) {
    bool overdue = false;
    {
      std::lock_guard lock(call->mu);
      call->done = true;
      overdue = call->overdue;
    }
    call->cv.notify_all();
    if (!overdue) return;
    spdlog::info("plugin '{}' stopped (late)", call->id);
    {
      std::lock_guard lock(info_mu);
      stopping.erase(call->id);
      auto& i = info_locked(call->id);
      i.state = "stopped";
      i.error.clear();
    }
    // If it was enabled again meanwhile, the latest config starts it now.
    worker.post(
        [this](bool cancelled) {
          if (cancelled) return;
          std::lock_guard lock(apply_mu);
          if (!all_stopped) (void)apply_locked(last);
        },
        false);
  }

  void reap_late_stops() {
    std::erase_if(late_stops, [](const std::shared_ptr<StopCall>& c) {
      {
        std::lock_guard lock(c->mu);
        if (!c->done) return false;
      }
      if (c->thread.joinable()) c->thread.join();  // it has finished shutdown(): no wait
      return true;
    });
  }

  ApplyReport apply(const config::PluginsConfig& cfg) {
    std::lock_guard lock(apply_mu);
    if (all_stopped) return ApplyReport::refusal("the daemon is stopping");
    return apply_locked(cfg);
  }

  ApplyReport apply_locked(const config::PluginsConfig& cfg) {
    ApplyReport report;
    last = cfg;
    failed.clear();
    reap_late_stops();
    const std::chrono::milliseconds deadline(cfg.stop_timeout_ms);
    std::set<std::string> wanted(cfg.enabled.begin(), cfg.enabled.end());

    // Disabled ones first, newest first.
    std::vector<std::shared_ptr<Runtime>> to_stop;
    for (auto it = running.rbegin(); it != running.rend(); ++it)
      if (!wanted.count((*it)->id)) to_stop.push_back(*it);
    for (const auto& rt : to_stop)
      if (!stop_one(rt, deadline)) report.stuck.push_back(rt->id);
    {
      std::lock_guard ilock(info_mu);
      for (auto& i : infos) i.enabled = wanted.count(i.id) > 0;
    }
    // The ones whose settings changed restart (newest first), so that start() reads them.
    std::vector<std::shared_ptr<Runtime>> changed;
    for (auto it = running.rbegin(); it != running.rend(); ++it) {
      std::string s = settings_for((*it)->id, cfg);
      std::lock_guard rlock((*it)->mu);
      if ((*it)->settings != s) changed.push_back(*it);
    }
    for (const auto& rt : changed) {
      spdlog::info("plugin '{}': settings changed; restarting it", rt->id);
      if (!stop_one(rt, deadline)) report.stuck.push_back(rt->id);
    }
    // Newly enabled ones (and earlier failures, retried), in the listed order.
    std::set<std::string> seen;
    for (const auto& id : cfg.enabled) {
      if (!seen.insert(id).second) {
        spdlog::warn("plugin '{}' is listed twice in [plugins] enabled; loading it once", id);
        continue;
      }
      if (find_running(id)) continue;
      load(id, cfg);
    }
    for (const auto& rt : changed)
      if (find_running(rt->id)) report.restarted.push_back(rt->id);
    report.failed = failed;
    return report;
  }

  void stop_all() {
    worker.stop();
    std::lock_guard lock(apply_mu);
    all_stopped = true;
    // No deadline here: the daemon is going away, and the plugin's code must not be running
    // when the Manager is destroyed. shutdown() logs every 5 s while it waits.
    while (!running.empty()) stop_one(running.back(), std::chrono::milliseconds::max());
    for (auto& c : late_stops)
      if (c->thread.joinable()) c->thread.join();
    late_stops.clear();
  }
};

Manager::Manager(HostServices services) : impl_(std::make_unique<Impl>(std::move(services))) {}

Manager::~Manager() {
  stop_all();
  impl_->host_pool.join();
}

ApplyReport Manager::apply(const config::PluginsConfig& plugins) {
  try {
    return impl_->apply(plugins);
  } catch (const std::exception& e) {
    spdlog::error("plugin manager: apply failed: {}", e.what());
    return ApplyReport::refusal(std::string("apply failed: ") + e.what());
  } catch (...) {
    spdlog::error("plugin manager: apply failed");
    return ApplyReport::refusal("apply failed");
  }
}

void Manager::reload(config::PluginsConfig plugins, std::function<void(ApplyReport)> done) {
  auto job = [this, plugins = std::move(plugins), done](bool cancelled) {
    done(cancelled ? ApplyReport::refusal("the daemon is stopping") : impl_->reload(plugins));
  };
  if (!impl_->worker.post(job, true)) {
    bool stopping = impl_->worker.stopped();
    done(ApplyReport::refusal(stopping
                                  ? "the daemon is stopping"
                                  : "too many reloads are waiting; try again when they are done"));
  }
}

std::vector<PluginInfo> Manager::list() const {
  std::vector<PluginInfo> out;
  std::vector<std::shared_ptr<Runtime>> runtimes;
  {
    std::lock_guard lock(impl_->info_mu);
    out = impl_->infos;
    for (const auto& i : out) {
      auto it = impl_->live.find(i.id);
      runtimes.push_back(it == impl_->live.end() ? nullptr : it->second.lock());
    }
  }
  // Outside info_mu: a runtime's mu is never taken under it.
  for (std::size_t n = 0; n < out.size(); ++n)
    if (runtimes[n]) runtimes[n]->load_info(out[n]);
  return out;
}

std::map<std::string, std::string> Manager::heartbeat_values() const {
  std::lock_guard lock(impl_->beats->mu);
  return impl_->beats->values;
}

std::vector<StatusSection> Manager::status_sections() const {
  std::vector<StatusSection> out;
  std::lock_guard lock(impl_->sections->mu);
  for (const auto& [id, section] : impl_->sections->by_plugin) out.push_back(section);
  return out;
}

void Manager::set_runner_config(config::RunnerConfig runner) {
  impl_->job_host->set_policy(std::move(runner));
}

std::string Manager::runners_json() const {
  return impl_->job_host->runners_json();
}

void Manager::stop_all() {
  try {
    impl_->stop_all();
  } catch (...) {
    spdlog::error("plugin manager: stop_all failed");
  }
}

}  // namespace mesh::plugin
