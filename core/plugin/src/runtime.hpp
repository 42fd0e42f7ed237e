// One loaded plugin at run time: its host table (whose ctx points at the Runtime), its
// registrations, the calls in flight and the bookkeeping that stop waits on. Internal to the
// plugin module; the host functions (host_*.cpp) and the dispatchers (dispatch.cpp) work on it.
//
// Concurrency model
//  - Each loaded plugin has one Runtime (shared_ptr), which is also the host table's ctx. Its
//    mutex guards its phase, registrations, pending calls and timers. Lock order:
//    Runtime::mu -> Router/Registry mutexes (those never call out while locked).
//  - Each plugin has an executor of its own (a thread pool of [plugins] executor_threads), so
//    a plugin whose callbacks block stalls only itself. Plugin callbacks are posted to it only
//    while the plugin is active; the post happens under Runtime::mu, so once stop has flipped
//    the phase nothing new reaches the executor. Handlers left in queues see the new phase and
//    bail out. Work that runs no plugin code (refusing a streamed call) goes to the Manager's
//    host pool instead, which also serves stopped plugins.
//  - Events (ABI 1.1): the bus calls a subscription's closure on that subscription's delivery
//    thread; the closure copies the event, posts the plugin's handler to the executor like any
//    callback, and blocks until it returns (at most event_timeout, or at once when the
//    subscription is removed before the handler started) to hand its verdict back to the bus.
//    Past the timeout the subscription is "stalled" in `mesh plugins` until the handler
//    returns.
//    Bus methods are never called with Runtime::mu held, because the bus may hold its own
//    locks while it delivers into us.
//  - Streamed HTTP calls and peer connections (ABI 1.2) block the calling plugin thread: the
//    host looks the call or connection up under Runtime::mu and calls it outside the lock.
//    Stopping a plugin aborts its streamed calls and closes its connections first, which wakes
//    any thread blocked in them, so neither quiesce() nor the plugin's stop() waits on a client.
//  - Runtimes are kept until the Manager dies, so a late host call through a stale ctx finds a
//    stopped plugin and gets MESH_E_STATE. Libraries are never unloaded while the Manager lives.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "abi_util.hpp"
#include "manifest.hpp"
#include "mesh/http/peer_conn.hpp"
#include "mesh/plugin.h"
#include "mesh/plugin/manager.hpp"

namespace mesh::web {
class Site;
}

namespace mesh::plugin {

namespace asio = boost::asio;

struct JobHost;

enum class Phase { active, stopping, stopped };

struct CliCall {
  std::mutex mu;  // orders chunk() against reply() for one call
  control::Responder responder;
  bool done = false;
};

struct Timer {
  explicit Timer(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  std::uint64_t id = 0;
  std::chrono::milliseconds interval{0};
  bool repeat = false;
  bool cancelled = false;
  mesh_timer_fn fn = nullptr;
  void* user = nullptr;
};

struct Delivery;

// One subscription of a plugin. Guarded by its Runtime's mu.
struct Subscription {
  std::string name;      // as the plugin named it
  std::string bus_name;  // the namespaced cursor name on the bus
  mesh_event_handler fn = nullptr;
  void* user = nullptr;
  bool removed = false;    // unsubscribed or plugin stopping: deliveries answer "later"
  bool in_flight = false;  // a handler call for it is queued or running
  bool stalled = false;    // the bus stopped waiting for the handler in flight (mesh plugins)
  // The delivery the bus's thread waits on, so that removing the subscription can wake it
  // (it stops waiting if the handler has not started).
  std::shared_ptr<Delivery> waiting;
  // Verdicts of handlers that finished after the bus stopped waiting for them: the bus
  // redelivers that event, and we answer from here instead of running the handler twice.
  std::deque<std::pair<std::pair<std::string, std::uint64_t>, bool>> late;
};

// One event handed from the bus's thread to the plugin executor. Owns copies: the bus's
// borrowed views die when its thread stops waiting.
struct Delivery {
  std::string origin, topic, payload;
  std::uint64_t seq = 0, lamport = 0, wall_ms = 0;
  std::condition_variable cv;  // with the Runtime's mu
  bool started = false;        // the handler was called (not merely queued)
  bool done = false, ok = false, abandoned = false;
};

// One streamed HTTP call (ABI 1.2). An Exchange allows one reader alongside one writer, and
// its write side (begin/write/end/respond) is sequential: the flags enforce that for plugins
// that call from several threads, and let stop abort a call whose write is still in progress.
struct StreamCall {
  std::shared_ptr<http::Exchange> ex;
  std::mutex mu;  // guards the flags; never held while the Exchange blocks
  std::condition_variable cv;
  bool writing = false;  // a write-side operation is running
  bool reading = false;  // http_read is running
  bool aborted = false;  // end(false) is due (stop, or http_end(0) during a write)
  bool done = false;     // answered, ended or aborted: no further operation
};

// What plugins set with heartbeat_set, shared by the Manager and its Runtimes.
struct Beats {
  mutable std::mutex mu;
  std::map<std::string, std::string> values;  // plugin id -> compact JSON
};

// What plugins set with status_set (ABI 1.3), shared the same way.
struct Sections {
  mutable std::mutex mu;
  std::map<std::string, StatusSection> by_plugin;
};

enum class Finish { no, on_success, always };

// Runs one write-side operation of a streamed call after any other has finished. Finish says
// whether the call is over afterwards. MESH_E_STATE once the call is over or aborted.
template <typename Fn>
int32_t stream_op(const std::shared_ptr<StreamCall>& c, Finish finish, Fn&& fn);
// Closes a streamed call's connection now, or right after the write in progress (its writer
// does it): the Exchange's write side must stay sequential.
void abort_stream(const std::shared_ptr<StreamCall>& c);
int32_t stream_code(const Status& st);

struct Runtime : std::enable_shared_from_this<Runtime> {
  Runtime(std::string id_, asio::io_context& io_, std::size_t executor_threads,
          asio::thread_pool& host_pool_, std::atomic<std::uint64_t>& ids_,
          std::shared_ptr<http::Router> router_, std::shared_ptr<control::Registry> verbs_);

  const std::string id;
  asio::io_context& io;
  std::unique_ptr<asio::thread_pool> executor;  // this plugin's callbacks, and nobody else's
  asio::thread_pool& host_pool;                 // host work that runs no plugin code
  std::atomic<std::uint64_t>& ids;
  std::shared_ptr<http::Router> router;
  std::shared_ptr<control::Registry> registry;
  std::shared_ptr<EventBus> bus;  // may be null
  std::chrono::milliseconds event_timeout{10'000};
  std::shared_ptr<const http::PeerConnector> connector;  // null: no peer connections
  std::shared_ptr<Beats> beats;
  std::shared_ptr<Sections> sections;
  std::string repos_dir;                     // ABI 1.3; empty: not offered
  std::shared_ptr<web::Site> site;           // ABI 1.3 web layer; null: not offered
  std::shared_ptr<JobHost> job_host;         // ABI 1.3 runner registry; null: not offered
  std::atomic<bool> cancel_connects{false};  // set when stopping: connects in progress give up

  mesh_host host{};
  const mesh_plugin_descriptor* desc = nullptr;
  void* instance = nullptr;
  std::string version;
  std::string data_dir;

  std::mutex mu;
  std::condition_variable idle;
  Phase phase = Phase::active;
  std::string settings = "{}";
  std::vector<http::RouteId> routes;
  std::vector<std::string> verbs;
  std::map<std::uint64_t, std::shared_ptr<Timer>> timers;
  std::map<std::uint64_t, http::Responder> http_calls;
  std::map<std::uint64_t, std::shared_ptr<CliCall>> cli_calls;
  std::map<std::string, std::shared_ptr<Subscription>> subs;  // by the plugin's name
  std::map<std::uint64_t, std::shared_ptr<StreamCall>> stream_calls;
  std::map<std::uint64_t, std::shared_ptr<http::PeerConn>> peer_conns;
  std::size_t connecting = 0;  // peer_connect calls in progress
  std::size_t queued = 0;      // posted to the executor, not started
  std::size_t running = 0;     // plugin callbacks executing now

  static Runtime* self(void* ctx) { return static_cast<Runtime*>(ctx); }

  // What `mesh plugins` shows of the executor and the subscriptions.
  void load_info(PluginInfo& out);

  void log(spdlog::level::level_enum level, std::string_view msg) const {
    spdlog::log(level, "[plugin {}] {}", id, msg);
  }

  bool usable_locked() const { return phase != Phase::stopped; }
  bool usable() {
    std::lock_guard lock(mu);
    return usable_locked();
  }
  std::size_t load_locked() const {
    return queued + running + http_calls.size() + cli_calls.size();
  }

  enum class Ran { no, ok, threw };

  // Runs a plugin callback with the bookkeeping quiesce() waits on. Ran::no if the plugin is no
  // longer active (then nothing ran); Ran::threw if an exception crossed the ABI.
  template <typename Fn>
  Ran run_callback(const char* what, Fn&& fn);

  // Removes a pending call from the table (if the plugin has not answered it yet).
  template <typename Map>
  static auto take(Map& calls, std::uint64_t call_id) {
    typename Map::mapped_type out{};
    auto it = calls.find(call_id);
    if (it != calls.end()) {
      out = std::move(it->second);
      calls.erase(it);
    }
    return out;
  }

  // For host calls on one entry of a table: runs fn(iterator) under mu, or answers
  // MESH_E_STATE once the plugin is stopped and MESH_E_NOT_FOUND for an unknown key. fn runs
  // under mu, so it must not call out: it copies, takes or marks the entry, nothing more.
  template <typename Map, typename Key, typename Fn>
  int32_t with_entry(Map& map, const Key& key, Fn&& fn) {
    std::lock_guard lock(mu);
    if (!usable_locked()) return MESH_E_STATE;
    auto it = map.find(typename Map::key_type(key));
    if (it == map.end()) return MESH_E_NOT_FOUND;
    fn(it);
    return MESH_OK;
  }

  // ---- dispatch (dispatch.cpp; called by the Router / Registry / bus / timers) ----
  void dispatch_http(http::Request&& req, http::Responder resp, mesh_http_handler fn, void* user);
  void dispatch_stream(http::Request&& req, std::shared_ptr<http::Exchange> ex,
                       mesh_http_handler fn, void* user);
  void dispatch_cli(control::Call&& call, control::Responder resp, mesh_cli_handler fn, void* user);
  // Arms (or re-arms) a timer; mu must be held.
  void arm_locked(const std::shared_ptr<Timer>& t);
  // Called by the bus on its delivery thread. Blocks until the plugin's handler has run on the
  // executor (or event_timeout passed) and returns its verdict: true = handled.
  bool deliver_event(const std::shared_ptr<Subscription>& sub, const BusEvent& ev);

  // ---- streamed calls and peer connections (host_http.cpp, host_peer.cpp) ----
  std::shared_ptr<StreamCall> find_stream(std::uint64_t call_id, int32_t* rc);
  void forget_stream(std::uint64_t call_id, const std::shared_ptr<StreamCall>& c);
  // Null for an unknown connection, and also once the plugin is stopped.
  std::shared_ptr<http::PeerConn> find_peer(std::uint64_t conn);
  // Answers a pending call (plain or streamed, before http_begin) with a whole response:
  // http_respond and ui_respond. MESH_E_NOT_FOUND for an unknown or answered call.
  int32_t answer(std::uint64_t call_id, http::Response out);

  // ---- web layer and runner registry (host_ui.cpp, host_jobs.cpp) ----
  // Posts fn (host code that calls the plugin: a job sink's drain) to the executor, counted
  // like any callback. False, and nothing runs, once the plugin is not active.
  bool post_callback(const char* what, std::function<void()> fn);
  // Stop: drops the plugin's assets and navigation entries, cancels the jobs it submitted and
  // removes its runners (waiting for their run() calls). Without Runtime::mu.
  void drop_services();

  // ---- lifecycle (runtime.cpp) ----
  void init_host_table();  // host_table.cpp
  // Aborts every streamed call and closes every peer connection (stop): threads blocked in
  // them return at once.
  void drop_io();
  // Takes the plugin off the routes, verbs, timers, bus and heartbeat, aborts its streamed
  // calls and closes its peer connections, waits for its running callbacks and answers its
  // pending calls. Afterwards only log/respond/cancel/publish work until `stopped`.
  void quiesce();
  void mark_stopped();
  // The whole shutdown: quiesce, stop() (if started), destroy() (if created).
  void shutdown(bool call_stop, bool call_destroy);

 private:
  struct RequestView;
  static void fill_request(const http::Request& req, std::uint64_t call_id, RequestView& v);
  void run_http(http::Request&& req, http::Responder resp, mesh_http_handler fn, void* user);
  void run_stream(http::Request&& req, std::shared_ptr<http::Exchange> ex, mesh_http_handler fn,
                  void* user);
  void run_cli(control::Call&& call, control::Responder resp, mesh_cli_handler fn, void* user);
  void run_timer(const std::shared_ptr<Timer>& t);
  void run_event(const std::shared_ptr<Subscription>& sub, const std::shared_ptr<Delivery>& d);
};

// Runs a host function's body. No exception may cross the C ABI: one becomes
// MESH_E_INTERNAL, with its message in err for the functions that have that buffer.
template <typename Fn>
int32_t guarded(void* ctx, char* err, size_t err_cap, Fn&& fn) {
  try {
    return fn(Runtime::self(ctx));
  } catch (const std::exception& e) {
    set_err(err, err_cap, e.what());
    return MESH_E_INTERNAL;
  } catch (...) {
    return MESH_E_INTERNAL;
  }
}
template <typename Fn>
int32_t guarded(void* ctx, Fn&& fn) {
  return guarded(ctx, nullptr, 0, std::forward<Fn>(fn));
}

template <typename Fn>
Runtime::Ran Runtime::run_callback(const char* what, Fn&& fn) {
  {
    std::lock_guard lock(mu);
    --queued;
    if (phase != Phase::active) {
      idle.notify_all();
      return Ran::no;
    }
    ++running;
  }
  Ran result = Ran::ok;
  try {
    fn();
  } catch (const std::exception& e) {
    result = Ran::threw;
    log(spdlog::level::err, fmt::format("plugin '{}' threw an exception across the ABI in {}: {}",
                                        id, what, sanitize(e.what(), kMaxErrorBytes)));
  } catch (...) {
    result = Ran::threw;
    log(spdlog::level::err,
        fmt::format("plugin '{}' threw an exception across the ABI in {}", id, what));
  }
  std::lock_guard lock(mu);
  --running;
  idle.notify_all();
  return result;
}

template <typename Fn>
int32_t stream_op(const std::shared_ptr<StreamCall>& c, Finish finish, Fn&& fn) {
  {
    std::unique_lock lock(c->mu);
    c->cv.wait(lock, [&] { return !c->writing || c->done || c->aborted; });
    if (c->done || c->aborted) return MESH_E_STATE;
    c->writing = true;
  }
  int32_t rc = MESH_E_INTERNAL;
  try {
    rc = fn();
  } catch (...) {
  }
  bool abort_now = false;
  {
    std::lock_guard lock(c->mu);
    c->writing = false;
    if (finish == Finish::always || (finish == Finish::on_success && rc == MESH_OK)) c->done = true;
    abort_now = c->aborted && !c->done;
    if (abort_now) c->done = true;
  }
  c->cv.notify_all();
  if (abort_now) (void)c->ex->end(false);
  return rc;
}

}  // namespace mesh::plugin
