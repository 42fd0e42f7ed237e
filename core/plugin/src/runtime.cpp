// A Runtime's lifecycle: quiesce (take the plugin off everything and wait for its callbacks),
// then the plugin's stop() and destroy().
#include "runtime.hpp"

#include "job_host.hpp"
#include "mesh/web/site.hpp"

namespace mesh::plugin {

using namespace std::chrono_literals;

Runtime::Runtime(std::string id_, asio::io_context& io_, std::size_t executor_threads,
                 asio::thread_pool& host_pool_, std::atomic<std::uint64_t>& ids_,
                 std::shared_ptr<http::Router> router_, std::shared_ptr<control::Registry> verbs_)
    : id(std::move(id_)),
      io(io_),
      executor(std::make_unique<asio::thread_pool>(executor_threads)),
      host_pool(host_pool_),
      ids(ids_),
      router(std::move(router_)),
      registry(std::move(verbs_)) {}

void Runtime::load_info(PluginInfo& out) {
  std::lock_guard lock(mu);
  out.queued = queued;
  out.running = running;
  out.stalled.clear();
  for (const auto& [name, sub] : subs)
    if (sub->stalled) out.stalled.push_back(name);
}

void Runtime::drop_io() {
  std::map<std::uint64_t, std::shared_ptr<StreamCall>> sc;
  std::map<std::uint64_t, std::shared_ptr<http::PeerConn>> pc;
  {
    std::lock_guard lock(mu);
    sc.swap(stream_calls);
    pc.swap(peer_conns);
  }
  if (!sc.empty())
    log(spdlog::level::info, fmt::format("aborting {} streamed HTTP call(s)", sc.size()));
  for (auto& [cid, c] : sc) abort_stream(c);
  for (auto& [cid, p] : pc) p->close();
}

void Runtime::drop_services() {
  if (site) {
    site->assets().remove_owner(id);
    site->nav().remove_owner(id);
  }
  if (job_host) {
    // Its jobs are cancelled (their sinks are not called any more: the phase is not active),
    // and its runners go, which cancels their jobs and waits for their run() calls: a runner's
    // code must not run once its plugin's stop() is called.
    job_host->registry.cancel_submitter(id);
    job_host->registry.remove_owner(id);
  }
}

void Runtime::quiesce() {
  std::vector<http::RouteId> rs;
  std::vector<std::string> vs;
  std::map<std::string, std::shared_ptr<Subscription>> ss;
  {
    std::lock_guard lock(mu);
    phase = Phase::stopping;
    cancel_connects = true;
    if (beats) {
      std::lock_guard beats_lock(beats->mu);
      beats->values.erase(id);
    }
    if (sections) {
      std::lock_guard sections_lock(sections->mu);
      sections->by_plugin.erase(id);
    }
    rs.swap(routes);
    vs.swap(verbs);
    ss.swap(subs);
    for (auto& [name, sub] : ss) {
      sub->removed = true;
      if (sub->waiting) sub->waiting->cv.notify_all();  // the bus's thread stops waiting
    }
    for (auto& [tid, t] : timers) {
      t->cancelled = true;
      t->timer.cancel();
    }
    timers.clear();
  }
  for (auto r : rs)
    if (router) router->remove(r);
  for (const auto& v : vs)
    if (registry) registry->remove(v);
  // Deliveries already in the bus see `stopping` and answer "later": the cursors stay put.
  for (const auto& [name, sub] : ss)
    if (bus) bus->unsubscribe(sub->bus_name);
  // Before waiting: a callback blocked in one of them (against the rules) returns now.
  drop_io();
  drop_services();

  {
    std::unique_lock lock(mu);
    auto started = std::chrono::steady_clock::now();
    while (running > 0) {
      if (idle.wait_for(lock, 5s, [&] { return running == 0; })) break;
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::steady_clock::now() - started);
      log(spdlog::level::warn,
          fmt::format("still waiting for {} running callback(s) after {}s", running, secs.count()));
    }
  }

  // Calls registered by callbacks that were starting while we swept.
  drop_io();

  std::map<std::uint64_t, http::Responder> hc;
  std::map<std::uint64_t, std::shared_ptr<CliCall>> cc;
  {
    std::lock_guard lock(mu);
    hc.swap(http_calls);
    cc.swap(cli_calls);
  }
  for (auto& [cid, resp] : hc) resp(http::Response::text(503, "plugin " + id + " stopped\n"));
  for (auto& [cid, c] : cc) {
    std::lock_guard call_lock(c->mu);
    c->done = true;
    if (c->responder.reply) c->responder.reply({1, "plugin " + id + " stopped"});
  }
}

void Runtime::mark_stopped() {
  std::lock_guard lock(mu);
  phase = Phase::stopped;
  // Anything answered late (respond after stop) was already answered above.
  http_calls.clear();
  cli_calls.clear();
}

void Runtime::shutdown(bool call_stop, bool call_destroy) {
  quiesce();
  if (call_stop) {
    try {
      desc->stop(instance);
    } catch (...) {
      log(spdlog::level::err,
          fmt::format("plugin '{}' threw an exception across the ABI in stop", id));
    }
  }
  drop_io();  // anything stop() left behind
  mark_stopped();
  if (call_destroy) {
    try {
      desc->destroy(instance);
    } catch (...) {
      log(spdlog::level::err,
          fmt::format("plugin '{}' threw an exception across the ABI in destroy", id));
    }
  }
  instance = nullptr;
  // Whatever is still queued sees the plugin stopped and returns at once.
  executor->join();
}

}  // namespace mesh::plugin
