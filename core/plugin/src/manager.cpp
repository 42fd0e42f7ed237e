// The plugin manager: finds, verifies, loads and runs plugins, and implements the host table.
//
// Concurrency model
//  - Each loaded plugin has one Runtime (shared_ptr), which is also the host table's ctx. Its
//    mutex guards its phase, registrations, pending calls and timers. Lock order:
//    Runtime::mu -> Router/Registry mutexes (those never call out while locked).
//  - Plugin callbacks are posted to the Manager's thread pool, and only while the plugin is
//    active; the post happens under Runtime::mu, so once stop has flipped the phase nothing new
//    reaches the pool for that plugin. Handlers left in queues see the new phase and bail out.
//  - Events (ABI 1.1): the bus calls a subscription's closure on its delivery thread; the
//    closure copies the event, posts the plugin's handler to the pool like any callback, and
//    blocks until it returns (at most event_handler_timeout) to hand its verdict back to the
//    bus. Bus methods are never called with Runtime::mu held, because the bus may hold its
//    own locks while it delivers into us.
//  - Streamed HTTP calls and peer connections (ABI 1.2) block the calling plugin thread: the
//    host looks the call or connection up under Runtime::mu and calls it outside the lock.
//    Stopping a plugin aborts its streamed calls and closes its connections first, which wakes
//    any thread blocked in them, so neither quiesce() nor the plugin's stop() waits on a client.
//  - Runtimes are kept until the Manager dies, so a late host call through a stale ctx finds a
//    stopped plugin and gets MESH_E_STATE. Libraries are never unloaded while the Manager lives.
#include "mesh/plugin/manager.hpp"

#include <dlfcn.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/dll/shared_library.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <set>

#include "manifest.hpp"
#include "mesh/base/files.hpp"
#include "mesh/http/peer_conn.hpp"
#include "mesh/plugin.h"

namespace mesh::plugin {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::size_t kMaxSettingsBytes = 1 << 20;
constexpr std::size_t kMaxPendingCalls = 1024;  // per plugin: queued + running + unanswered
constexpr std::size_t kMaxTimers = 1024;
constexpr std::size_t kMaxRoutes = 256;
constexpr std::size_t kMaxVerbs = 256;
constexpr std::size_t kMaxLogBytes = 16 * 1024;
constexpr std::size_t kMaxErrorBytes = MESH_ERR_CAP;
constexpr std::size_t kMaxResponseHeaders = 100;
constexpr std::size_t kMaxResponseBody = 64u << 20;
constexpr std::uint64_t kMaxRouteBody = 1ull << 30;
// Streamed bodies are never held in memory, so their cap only bounds what one request may send.
constexpr std::uint64_t kMaxStreamBody = 64ull << 30;
constexpr std::uint64_t kMaxTimerMs = 30ull * 24 * 3600 * 1000;
constexpr std::size_t kMaxSubscriptions = 64;
constexpr std::size_t kMaxSubscriptionName = 48;
constexpr std::size_t kMaxTopic = 64;
constexpr std::size_t kMaxPayload = 64 * 1024;
constexpr std::size_t kMaxLateVerdicts = 64;   // per subscription
constexpr std::size_t kMaxStreamCalls = 4096;  // per plugin: a backstop, plugins cap their own
constexpr std::size_t kMaxPeerConns = 256;     // per plugin, open or connecting
constexpr std::size_t kMaxHostPort = 300;
constexpr std::uint64_t kMaxPeerTimeoutMs = 24ull * 3600 * 1000;
constexpr auto kDefaultPeerTimeout = std::chrono::milliseconds(30'000);
constexpr std::size_t kMaxHeartbeatValue = 8 * 1024;
constexpr uint32_t kKnownRouteFlags = MESH_ROUTE_STREAM | MESH_ROUTE_LOCAL;

std::string abi_text(std::uint32_t major, std::uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string_view as_view(mesh_str s) {
  return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
}
mesh_str as_str(std::string_view s) {
  return mesh_str{s.data(), s.size()};
}

const char* code_name(int32_t rc) {
  switch (rc) {
    case MESH_E_INVALID:
      return "MESH_E_INVALID";
    case MESH_E_NOT_FOUND:
      return "MESH_E_NOT_FOUND";
    case MESH_E_EXISTS:
      return "MESH_E_EXISTS";
    case MESH_E_LIMIT:
      return "MESH_E_LIMIT";
    case MESH_E_STATE:
      return "MESH_E_STATE";
    case MESH_E_UNSUPPORTED:
      return "MESH_E_UNSUPPORTED";
    case MESH_E_INTERNAL:
      return "MESH_E_INTERNAL";
    default:
      return "an unknown error code";
  }
}

// Writes a NUL-terminated message into a caller-owned buffer.
void set_err(char* err, std::size_t cap, std::string_view msg) {
  if (!err || cap == 0) return;
  std::size_t n = std::min(msg.size(), cap - 1);
  std::memcpy(err, msg.data(), n);
  err[n] = '\0';
}

// The message a plugin left in our buffer, made safe to log and show.
std::string plugin_message(const char* err, std::size_t cap) {
  return sanitize(std::string_view(err, strnlen(err, cap)), kMaxErrorBytes);
}

bool valid_method(std::string_view m) {
  if (m == "*") return true;
  if (m.empty() || m.size() > 16) return false;
  for (char c : m)
    if (c < 'A' || c > 'Z') return false;
  return true;
}

bool valid_route_path(std::string_view p) {
  if (p.empty() || p.size() > 256 || p[0] != '/') return false;
  if (p.size() > 1 && p.back() == '/') return false;
  for (char c : p)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '?' || c == '#') return false;
  return true;
}

bool valid_verb(std::string_view v) {
  if (v.empty() || v.size() > 32) return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
    if (!ok) return false;
  }
  return true;
}

// The gossip topic grammar: [a-z][a-z0-9._-]{0,63}.
bool valid_topic(std::string_view t) {
  if (t.empty() || t.size() > kMaxTopic || t[0] < 'a' || t[0] > 'z') return false;
  for (char c : t)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

// Topics whose events the core itself interprets: a plugin publishing them could forge
// membership or peer liveness.
bool reserved_topic(std::string_view t) {
  for (std::string_view family : {std::string_view("roster"), std::string_view("heartbeat")})
    if (t == family ||
        (t.size() > family.size() && t.starts_with(family) && t[family.size()] == '.'))
      return true;
  return false;
}

bool valid_subscription_name(std::string_view n) {
  if (n.empty() || n.size() > kMaxSubscriptionName) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (i > 0 && (c == '.' || c == '_' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

bool valid_pattern(std::string_view p) {
  return p == "*" || valid_topic(p);
}

int32_t code_of(Errc e) {
  switch (e) {
    case Errc::invalid:
      return MESH_E_INVALID;
    case Errc::not_found:
      return MESH_E_NOT_FOUND;
    case Errc::exists:
      return MESH_E_EXISTS;
    case Errc::limit:
      return MESH_E_LIMIT;
    case Errc::state:
      return MESH_E_STATE;
    case Errc::unsupported:
      return MESH_E_UNSUPPORTED;
    default:
      return MESH_E_INTERNAL;
  }
}

bool valid_header_name(std::string_view n) {
  if (n.empty() || n.size() > 256) return false;
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!ok || c == '\0') return false;
  }
  return true;
}

bool valid_header_value(std::string_view v) {
  if (v.size() > 8192) return false;
  for (char c : v)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

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

// One subscription of a plugin. Guarded by its Runtime's mu.
struct Subscription {
  std::string name;      // as the plugin named it
  std::string bus_name;  // the namespaced cursor name on the bus
  mesh_event_handler fn = nullptr;
  void* user = nullptr;
  bool removed = false;    // unsubscribed or plugin stopping: deliveries answer "later"
  bool in_flight = false;  // a handler call for it is queued or running
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

enum class Finish { no, on_success, always };

// Runs one write-side operation of a streamed call after any other has finished. Finish says
// whether the call is over afterwards. MESH_E_STATE once the call is over or aborted.
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

// Closes a streamed call's connection now, or right after the write in progress (its writer
// does it): the Exchange's write side must stay sequential.
void abort_stream(const std::shared_ptr<StreamCall>& c) {
  bool now = false;
  {
    std::lock_guard lock(c->mu);
    if (c->done || c->aborted) return;
    c->aborted = true;
    now = !c->writing;
    if (now) c->done = true;
  }
  c->cv.notify_all();
  if (now) {
    try {
      (void)c->ex->end(false);
    } catch (...) {
    }
  }
}

int32_t stream_code(const Status& st) {
  if (st) return MESH_OK;
  switch (st.error().code) {
    case Errc::invalid:
      return MESH_E_INVALID;
    case Errc::limit:
      return MESH_E_LIMIT;
    default:  // the client went away, timed out, or the call is over
      return MESH_E_STATE;
  }
}

}  // namespace

std::string bus_subscription_name(std::string_view plugin_id, std::string_view name) {
  std::string full = "plugin." + std::string(plugin_id) + "." + std::string(name);
  if (full.size() <= kMaxTopic) return full;
  // FNV-1a 64 is stable across builds and platforms (std::hash is not): the cursor must keep
  // its name across upgrades. The '/' separates id and name unambiguously.
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(plugin_id);
  mix("/");
  mix(name);
  static const char hex[] = "0123456789abcdef";
  std::string out = "plugin.";
  for (int shift = 60; shift >= 0; shift -= 4) out += hex[(h >> shift) & 0xf];
  return out;
}

// One loaded plugin: its host table (ctx points here), registrations and calls in flight.
struct Runtime : std::enable_shared_from_this<Runtime> {
  Runtime(std::string id_, asio::io_context& io_, asio::thread_pool& pool_,
          std::atomic<std::uint64_t>& ids_, std::shared_ptr<http::Router> router_,
          std::shared_ptr<control::Registry> verbs_)
      : id(std::move(id_)),
        io(io_),
        pool(pool_),
        ids(ids_),
        router(std::move(router_)),
        registry(std::move(verbs_)) {}

  const std::string id;
  asio::io_context& io;
  asio::thread_pool& pool;
  std::atomic<std::uint64_t>& ids;
  std::shared_ptr<http::Router> router;
  std::shared_ptr<control::Registry> registry;
  std::shared_ptr<EventBus> bus;  // may be null
  std::chrono::milliseconds event_timeout{10'000};
  std::shared_ptr<const http::PeerConnector> connector;  // null: no peer connections
  std::shared_ptr<Beats> beats;
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
  std::size_t queued = 0;      // posted to the pool, not started
  std::size_t running = 0;     // plugin callbacks executing now

  static Runtime* self(void* ctx) { return static_cast<Runtime*>(ctx); }

  void log(spdlog::level::level_enum level, std::string_view msg) const {
    spdlog::log(level, "[plugin {}] {}", id, msg);
  }

  bool usable_locked() const { return phase != Phase::stopped; }
  std::size_t load_locked() const {
    return queued + running + http_calls.size() + cli_calls.size();
  }

  enum class Ran { no, ok, threw };

  // Runs a plugin callback with the bookkeeping quiesce() waits on. Ran::no if the plugin is no
  // longer active (then nothing ran); Ran::threw if an exception crossed the ABI.
  template <typename Fn>
  Ran run_callback(const char* what, Fn&& fn) {
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

  // ---- dispatch (called by the Router / Registry, typically on an I/O thread) ----

  void dispatch_http(http::Request&& req, http::Responder resp, mesh_http_handler fn, void* user) {
    std::unique_lock lock(mu);
    if (phase != Phase::active) {
      lock.unlock();
      resp(http::Response::text(503, "plugin " + id + " is stopped\n"));
      return;
    }
    if (load_locked() >= kMaxPendingCalls) {
      lock.unlock();
      resp(http::Response::text(503, "plugin " + id + " is busy\n"));
      return;
    }
    ++queued;
    asio::post(pool,
               [self = shared_from_this(), req = std::move(req), resp = std::move(resp), fn,
                user]() mutable { self->run_http(std::move(req), std::move(resp), fn, user); });
  }

  // The ABI view of a request: it points into the Request and into this struct.
  struct RequestView {
    std::vector<mesh_http_header> headers;
    std::string peer_id;
    mesh_http_request r{};
  };
  static void fill_request(const http::Request& req, std::uint64_t call_id, RequestView& v) {
    v.headers.reserve(req.headers.size());
    for (const auto& [n, val] : req.headers) v.headers.push_back({as_str(n), as_str(val)});
    v.peer_id = req.peer ? req.peer->id() : std::string();
    mesh_http_request& r = v.r;
    r.struct_size = sizeof r;
    r.client_kind = req.peer ? MESH_CLIENT_MEMBER : MESH_CLIENT_LOCAL;
    r.call_id = call_id;
    r.method = as_str(req.method);
    r.path = as_str(req.path);
    r.query = as_str(req.query);
    r.headers = v.headers.data();
    r.header_count = v.headers.size();
    r.body = as_str(req.body);
    r.peer_id = as_str(v.peer_id);
    r.remote = as_str(req.remote);
    r.tls = req.tls ? 1u : 0u;
  }

  void run_http(http::Request&& req, http::Responder resp, mesh_http_handler fn, void* user) {
    const std::uint64_t call_id = ids.fetch_add(1);
    RequestView view;
    fill_request(req, call_id, view);

    // The call is registered before the handler runs: it may answer from inside.
    Ran ran = run_callback("an HTTP handler", [&] {
      {
        std::lock_guard lock(mu);
        http_calls.emplace(call_id, resp);
      }
      fn(user, &view.r);
    });
    if (ran == Ran::no) {
      resp(http::Response::text(503, "plugin " + id + " is stopped\n"));
    } else if (ran == Ran::threw) {
      http::Responder pending;
      {
        std::lock_guard lock(mu);
        pending = take(http_calls, call_id);
      }
      if (pending) pending(http::Response::text(500, "internal error in plugin " + id + "\n"));
    }
  }

  // ---- streamed HTTP (ABI 1.2) ----

  // Called by the Router on the connection's I/O strand, which must not block: every Exchange
  // call, even a refusal, happens on the pool.
  void dispatch_stream(http::Request&& req, std::shared_ptr<http::Exchange> ex,
                       mesh_http_handler fn, void* user) {
    std::unique_lock lock(mu);
    if (phase != Phase::active || load_locked() >= kMaxPendingCalls ||
        stream_calls.size() >= kMaxStreamCalls) {
      std::string why = "plugin " + id + (phase == Phase::active ? " is busy\n" : " is stopped\n");
      lock.unlock();
      asio::post(pool, [ex = std::move(ex), why = std::move(why)] {
        (void)ex->respond(http::Response::text(503, why));
      });
      return;
    }
    ++queued;
    asio::post(pool,
               [self = shared_from_this(), req = std::move(req), ex = std::move(ex), fn,
                user]() mutable { self->run_stream(std::move(req), std::move(ex), fn, user); });
  }

  void run_stream(http::Request&& req, std::shared_ptr<http::Exchange> ex, mesh_http_handler fn,
                  void* user) {
    const std::uint64_t call_id = ids.fetch_add(1);
    RequestView view;
    fill_request(req, call_id, view);
    auto call = std::make_shared<StreamCall>();
    call->ex = ex;
    Ran ran = run_callback("a streamed HTTP handler", [&] {
      {
        std::lock_guard lock(mu);
        stream_calls.emplace(call_id, call);
      }
      fn(user, &view.r);
    });
    if (ran == Ran::no) {
      (void)ex->respond(http::Response::text(503, "plugin " + id + " is stopped\n"));
    } else if (ran == Ran::threw) {
      std::shared_ptr<StreamCall> pending;
      {
        std::lock_guard lock(mu);
        pending = take(stream_calls, call_id);
      }
      if (!pending) return;
      auto resp = http::Response::text(500, "internal error in plugin " + id + "\n");
      if (stream_op(pending, Finish::on_success,
                    [&] { return stream_code(pending->ex->respond(std::move(resp))); }) != MESH_OK)
        abort_stream(pending);
    }
  }

  // Aborts every streamed call and closes every peer connection (stop): threads blocked in
  // them return at once.
  void drop_io() {
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

  void dispatch_cli(control::Call&& call, control::Responder resp, mesh_cli_handler fn,
                    void* user) {
    std::unique_lock lock(mu);
    if (phase != Phase::active || load_locked() >= kMaxPendingCalls) {
      bool busy = phase == Phase::active;
      lock.unlock();
      if (resp.reply) resp.reply({1, "plugin " + id + (busy ? " is busy" : " is stopped")});
      return;
    }
    ++queued;
    asio::post(pool,
               [self = shared_from_this(), call = std::move(call), resp = std::move(resp), fn,
                user]() mutable { self->run_cli(std::move(call), std::move(resp), fn, user); });
  }

  void run_cli(control::Call&& call, control::Responder resp, mesh_cli_handler fn, void* user) {
    const std::uint64_t call_id = ids.fetch_add(1);
    std::vector<mesh_str> argv;
    argv.reserve(call.args.size());
    for (const auto& a : call.args) argv.push_back(as_str(a));
    mesh_cli_request r{};
    r.struct_size = sizeof r;
    r.json = call.json ? 1u : 0u;
    r.call_id = call_id;
    r.argv = argv.data();
    r.argc = argv.size();
    Ran ran = run_callback("a CLI handler", [&] {
      auto c = std::make_shared<CliCall>();
      c->responder = resp;
      {
        std::lock_guard lock(mu);
        cli_calls.emplace(call_id, std::move(c));
      }
      fn(user, &r);
    });
    if (ran == Ran::no) {
      if (resp.reply) resp.reply({1, "plugin " + id + " is stopped"});
    } else if (ran == Ran::threw) {
      std::shared_ptr<CliCall> pending;
      {
        std::lock_guard lock(mu);
        pending = take(cli_calls, call_id);
      }
      if (pending) {
        std::lock_guard call_lock(pending->mu);
        pending->done = true;
        if (pending->responder.reply)
          pending->responder.reply({1, "internal error in plugin " + id});
      }
    }
  }

  // Arms (or re-arms) a timer; mu must be held. The wait handler runs on the I/O thread and
  // only posts the callback to the pool.
  void arm_locked(const std::shared_ptr<Timer>& t) {
    t->timer.expires_after(t->interval);
    t->timer.async_wait([weak = weak_from_this(), t](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled
      auto self = weak.lock();
      if (!self) return;
      std::lock_guard lock(self->mu);
      if (self->phase != Phase::active || t->cancelled) return;
      ++self->queued;
      asio::post(self->pool, [self, t] { self->run_timer(t); });
    });
  }

  void run_timer(const std::shared_ptr<Timer>& t) {
    {
      std::lock_guard lock(mu);
      if (t->cancelled) {
        --queued;
        idle.notify_all();
        return;
      }
    }
    run_callback("a timer", [&] { t->fn(t->user, t->id); });
    std::lock_guard lock(mu);
    if (t->cancelled || phase != Phase::active) return;
    // Fixed delay: the next run is scheduled after this one finished, so runs never pile up.
    if (t->repeat)
      arm_locked(t);
    else
      timers.erase(t->id);
  }

  // ---- events ----

  // Called by the bus on its delivery thread. Blocks until the plugin's handler has run on the
  // executor (or event_timeout passed) and returns its verdict: true = handled.
  bool deliver_event(const std::shared_ptr<Subscription>& sub, const BusEvent& ev) {
    std::unique_lock lock(mu);
    // "Later" keeps the event for redelivery: a stopped plugin resumes from its cursor.
    if (phase != Phase::active || sub->removed || sub->in_flight) return false;
    if (ev.seq != 0) {
      auto key = std::make_pair(ev.origin_id, ev.seq);
      auto it = std::find_if(sub->late.begin(), sub->late.end(),
                             [&](const auto& entry) { return entry.first == key; });
      if (it != sub->late.end()) {
        bool ok = it->second;
        sub->late.erase(it);
        if (ok) return true;
      }
    }
    if (load_locked() >= kMaxPendingCalls) return false;
    auto d = std::make_shared<Delivery>();
    d->origin = ev.origin_id;
    d->topic = ev.topic;
    d->payload.assign(ev.payload);
    d->seq = ev.seq;
    d->lamport = ev.lamport;
    d->wall_ms = ev.wall_ms;
    ++queued;
    sub->in_flight = true;
    asio::post(pool, [self = shared_from_this(), sub, d] { self->run_event(sub, d); });
    if (d->cv.wait_for(lock, event_timeout, [&] { return d->done; })) return d->ok;
    d->abandoned = true;
    log(spdlog::level::warn,
        fmt::format("event handler of subscription '{}' still runs after {} ms; the event ({} "
                    "#{}) will be offered again",
                    sub->name, event_timeout.count(), d->topic, d->seq));
    return false;
  }

  void run_event(const std::shared_ptr<Subscription>& sub, const std::shared_ptr<Delivery>& d) {
    mesh_event ev{};
    ev.struct_size = sizeof ev;
    ev.flags = d->seq == 0 ? MESH_EVENT_EPHEMERAL : 0u;
    ev.origin = as_str(d->origin);
    ev.seq = d->seq;
    ev.lamport = d->lamport;
    ev.wall_ms = d->wall_ms;
    ev.topic = as_str(d->topic);
    ev.payload = as_str(d->payload);
    bool handled = false;
    Ran ran = run_callback("an event handler", [&] {
      {
        std::lock_guard lock(mu);
        if (sub->removed) return;  // unsubscribed while queued: not handled
      }
      handled = sub->fn(sub->user, &ev) == MESH_OK;
    });
    std::lock_guard lock(mu);
    sub->in_flight = false;
    d->done = true;
    d->ok = ran == Ran::ok && handled;
    if (d->abandoned && d->ok && d->seq != 0) {
      if (sub->late.size() >= kMaxLateVerdicts) sub->late.pop_front();
      sub->late.emplace_back(std::make_pair(d->origin, d->seq), true);
    }
    d->cv.notify_all();
  }

  // ---- the host table ----

  // Runs a host function's body. No exception may cross the C ABI: one becomes
  // MESH_E_INTERNAL, with its message in err for the functions that have that buffer.
  template <typename Fn>
  static int32_t guarded(void* ctx, char* err, size_t err_cap, Fn&& fn) {
    try {
      return fn(self(ctx));
    } catch (const std::exception& e) {
      set_err(err, err_cap, e.what());
      return MESH_E_INTERNAL;
    } catch (...) {
      return MESH_E_INTERNAL;
    }
  }
  template <typename Fn>
  static int32_t guarded(void* ctx, Fn&& fn) {
    return guarded(ctx, nullptr, 0, std::forward<Fn>(fn));
  }

  bool usable() {
    std::lock_guard lock(mu);
    return usable_locked();
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

  static void h_log(void* ctx, uint32_t level, mesh_str message) {
    (void)guarded(ctx, [&](Runtime* p) {
      if (!p->usable()) return MESH_E_STATE;
      static constexpr spdlog::level::level_enum kLevels[] = {
          spdlog::level::trace, spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
          spdlog::level::err};
      auto lvl = level <= MESH_LOG_ERROR ? kLevels[level] : spdlog::level::err;
      p->log(lvl, sanitize(as_view(message), kMaxLogBytes));
      return MESH_OK;
    });
  }

  static int32_t copy_out(const std::string& value, char* buf, size_t cap, size_t* needed) {
    if (needed) *needed = value.size();
    if (!buf && cap) return MESH_E_INVALID;
    if (cap < value.size()) return MESH_E_LIMIT;
    if (!value.empty()) std::memcpy(buf, value.data(), value.size());
    if (cap > value.size()) buf[value.size()] = '\0';  // a courtesy for C callers
    return MESH_OK;
  }

  static int32_t h_config_json(void* ctx, char* buf, size_t cap, size_t* needed) {
    return guarded(ctx, [&](Runtime* p) {
      std::string value;
      {
        std::lock_guard lock(p->mu);
        if (!p->usable_locked()) return MESH_E_STATE;
        value = p->settings;
      }
      return copy_out(value, buf, cap, needed);
    });
  }

  static int32_t h_data_dir(void* ctx, char* buf, size_t cap, size_t* needed) {
    return guarded(ctx, [&](Runtime* p) {
      if (!p->usable()) return MESH_E_STATE;
      return copy_out(p->data_dir, buf, cap, needed);
    });
  }

  static int32_t add_route(void* ctx, mesh_str method, mesh_str path, uint64_t max_body,
                           uint32_t flags, mesh_http_handler handler, void* user, char* err,
                           size_t err_cap) {
    return guarded(ctx, err, err_cap, [&](Runtime* p) {
      std::string m(as_view(method)), pa(as_view(path));
      if (!handler) return set_err(err, err_cap, "no handler"), MESH_E_INVALID;
      if (flags & ~kKnownRouteFlags)
        return set_err(err, err_cap, "unknown route flags " + std::to_string(flags)),
               MESH_E_INVALID;
      if (!valid_method(m))
        return set_err(err, err_cap, "invalid method (upper-case token or \"*\")"), MESH_E_INVALID;
      if (!valid_route_path(pa))
        return set_err(err, err_cap, "invalid path (absolute, no trailing '/', no spaces)"),
               MESH_E_INVALID;
      if (max_body > ((flags & MESH_ROUTE_STREAM) ? kMaxStreamBody : kMaxRouteBody))
        return set_err(err, err_cap,
                       (flags & MESH_ROUTE_STREAM) ? "max_body is larger than 64 GiB"
                                                   : "max_body is larger than 1 GiB"),
               MESH_E_LIMIT;
      std::lock_guard lock(p->mu);
      if (p->phase != Phase::active)
        return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
      if (p->routes.size() >= kMaxRoutes)
        return set_err(err, err_cap, "too many routes"), MESH_E_LIMIT;
      http::RouteOptions opts;
      opts.max_body = static_cast<std::size_t>(max_body);
      opts.access = (flags & MESH_ROUTE_LOCAL) ? http::Access::local : http::Access::member;
      std::weak_ptr<Runtime> weak = p->weak_from_this();
      http::RouteId rid = 0;
      bool added = false;
      if (p->router && (flags & MESH_ROUTE_STREAM)) {
        // A dropped Exchange answers 500 by itself (or closes the connection).
        auto h = [weak, handler, user](http::Request&& req, std::shared_ptr<http::Exchange> ex) {
          if (auto rt = weak.lock())
            rt->dispatch_stream(std::move(req), std::move(ex), handler, user);
        };
        added = p->router->try_add_stream(m, pa, opts, std::move(h), &rid);
      } else if (p->router) {
        auto h = [weak, handler, user](http::Request&& req, http::Responder resp) {
          if (auto rt = weak.lock())
            rt->dispatch_http(std::move(req), std::move(resp), handler, user);
          else
            resp(http::Response::text(503, "plugin is stopped\n"));
        };
        added = p->router->try_add(m, pa, opts, std::move(h), &rid);
      }
      if (!added)
        return set_err(err, err_cap, "route " + m + " " + pa + " is already registered"),
               MESH_E_EXISTS;
      p->routes.push_back(rid);
      return MESH_OK;
    });
  }

  static int32_t h_http_route(void* ctx, mesh_str method, mesh_str path, uint64_t max_body,
                              mesh_http_handler handler, void* user, char* err, size_t err_cap) {
    return add_route(ctx, method, path, max_body, 0, handler, user, err, err_cap);
  }

  static int32_t h_http_route2(void* ctx, mesh_str method, mesh_str path, uint64_t max_body,
                               uint32_t flags, mesh_http_handler handler, void* user, char* err,
                               size_t err_cap) {
    return add_route(ctx, method, path, max_body, flags, handler, user, err, err_cap);
  }

  // Validates and copies response headers (as http_respond always has).
  static int32_t copy_headers(const mesh_http_header* headers, size_t count,
                              std::vector<std::pair<std::string, std::string>>& out) {
    if (count > kMaxResponseHeaders) return MESH_E_LIMIT;
    if (count && !headers) return MESH_E_INVALID;
    for (size_t i = 0; i < count; ++i) {
      auto n = as_view(headers[i].name), v = as_view(headers[i].value);
      if (!valid_header_name(n) || !valid_header_value(v)) return MESH_E_INVALID;
      out.emplace_back(std::string(n), std::string(v));
    }
    return MESH_OK;
  }

  static int32_t h_http_respond(void* ctx, uint64_t call_id, const mesh_http_response* r) {
    return guarded(ctx, [&](Runtime* p) {
      if (!p->usable()) return MESH_E_STATE;
      if (!r || !MESH_HAS_FIELD(r, mesh_http_response, body)) return MESH_E_INVALID;
      if (r->status < 100 || r->status > 599) return MESH_E_INVALID;
      if (r->body.len > kMaxResponseBody) return MESH_E_LIMIT;
      if (r->body.len && !r->body.ptr) return MESH_E_INVALID;
      http::Response out;
      out.status = r->status;
      if (int32_t rc = copy_headers(r->headers, r->header_count, out.headers); rc != MESH_OK)
        return rc;
      out.body.assign(as_view(r->body));
      http::Responder resp;
      std::shared_ptr<StreamCall> stream;
      {
        std::lock_guard lock(p->mu);
        auto it = p->http_calls.find(call_id);
        if (it != p->http_calls.end()) {
          resp = std::move(it->second);
          p->http_calls.erase(it);
          p->idle.notify_all();
        } else if (auto st = p->stream_calls.find(call_id); st != p->stream_calls.end()) {
          stream = st->second;
        } else {
          return MESH_E_NOT_FOUND;
        }
      }
      if (resp) {
        resp(std::move(out));
        return MESH_OK;
      }
      // A streamed call, answered whole (only before http_begin).
      int32_t rc = stream_op(stream, Finish::on_success,
                             [&] { return stream_code(stream->ex->respond(std::move(out))); });
      if (rc == MESH_OK) p->forget_stream(call_id, stream);
      return rc;
    });
  }

  // ---- ABI 1.2: streamed calls ----

  std::shared_ptr<StreamCall> find_stream(std::uint64_t call_id, int32_t* rc) {
    std::shared_ptr<StreamCall> c;
    *rc = with_entry(stream_calls, call_id, [&](auto it) { c = it->second; });
    return c;
  }

  void forget_stream(std::uint64_t call_id, const std::shared_ptr<StreamCall>& c) {
    std::lock_guard lock(mu);
    auto it = stream_calls.find(call_id);
    if (it != stream_calls.end() && it->second == c) stream_calls.erase(it);
  }

  static int32_t h_http_read(void* ctx, uint64_t call_id, char* buf, size_t cap, size_t* got) {
    return guarded(ctx, [&](Runtime* p) {
      if (!got) return MESH_E_INVALID;
      *got = 0;
      if (cap && !buf) return MESH_E_INVALID;
      int32_t rc = MESH_OK;
      auto c = p->find_stream(call_id, &rc);
      if (!c) return rc;
      {
        std::lock_guard lock(c->mu);
        if (c->reading) return MESH_E_STATE;  // one reader at a time
        if (c->aborted) return MESH_E_STATE;
        c->reading = true;
      }
      Result<std::size_t> r = make_error(Errc::internal, "");
      try {
        r = c->ex->read(buf, cap);
      } catch (...) {
      }
      {
        std::lock_guard lock(c->mu);
        c->reading = false;
      }
      if (!r) return stream_code(r.error());
      *got = *r;
      return MESH_OK;
    });
  }

  static int32_t h_http_begin(void* ctx, uint64_t call_id, uint32_t status,
                              const mesh_http_header* headers, size_t header_count) {
    return guarded(ctx, [&](Runtime* p) {
      if (status < 100 || status > 599) return MESH_E_INVALID;
      std::vector<std::pair<std::string, std::string>> hs;
      if (int32_t rc = copy_headers(headers, header_count, hs); rc != MESH_OK) return rc;
      int32_t rc = MESH_OK;
      auto c = p->find_stream(call_id, &rc);
      if (!c) return rc;
      return stream_op(c, Finish::no,
                       [&] { return stream_code(c->ex->begin(status, std::move(hs))); });
    });
  }

  static int32_t h_http_write(void* ctx, uint64_t call_id, mesh_str data) {
    return guarded(ctx, [&](Runtime* p) {
      if (data.len && !data.ptr) return MESH_E_INVALID;
      int32_t rc = MESH_OK;
      auto c = p->find_stream(call_id, &rc);
      if (!c) return rc;
      return stream_op(c, Finish::no, [&] { return stream_code(c->ex->write(as_view(data))); });
    });
  }

  static int32_t h_http_end(void* ctx, uint64_t call_id, uint32_t ok) {
    return guarded(ctx, [&](Runtime* p) {
      int32_t rc = MESH_OK;
      auto c = p->find_stream(call_id, &rc);
      if (!c) return rc;
      p->forget_stream(call_id, c);  // dead afterwards, whatever happens below
      if (!ok) {
        abort_stream(c);  // also while another thread writes: it closes right after
        return MESH_OK;
      }
      return stream_op(c, Finish::always, [&] { return stream_code(c->ex->end(true)); });
    });
  }

  // ---- ABI 1.2: peer connections ----

  static int32_t h_peer_connect(void* ctx, mesh_str host_port, mesh_str peer_id,
                                uint32_t timeout_ms, uint64_t* conn, char* err, size_t err_cap) {
    return guarded(ctx, err, err_cap, [&](Runtime* p) {
      if (!conn) return set_err(err, err_cap, "no conn pointer"), MESH_E_INVALID;
      *conn = 0;
      auto hp = as_view(host_port);
      if (hp.empty() || hp.size() > kMaxHostPort || (host_port.len && !host_port.ptr))
        return set_err(err, err_cap, "host_port must be host:port or [v6]:port"), MESH_E_INVALID;
      std::optional<identity::PublicKey> pin;
      if (auto pid = as_view(peer_id); !pid.empty()) {
        auto key = identity::parse_id(pid);
        if (!key) return set_err(err, err_cap, "peer_id is not a mesh:... id"), MESH_E_INVALID;
        pin = *key;
      }
      if (timeout_ms > kMaxPeerTimeoutMs)
        return set_err(err, err_cap, "timeout_ms is longer than a day"), MESH_E_LIMIT;
      if (!p->connector)
        return set_err(err, err_cap, "this daemon offers no peer connections"), MESH_E_UNSUPPORTED;
      {
        std::lock_guard lock(p->mu);
        if (p->phase != Phase::active)
          return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
        if (p->peer_conns.size() + p->connecting >= kMaxPeerConns)
          return set_err(err, err_cap, "too many peer connections (at most 256)"), MESH_E_LIMIT;
        ++p->connecting;
      }
      auto timeout = timeout_ms ? std::chrono::milliseconds(timeout_ms) : kDefaultPeerTimeout;
      Result<std::shared_ptr<http::PeerConn>> r = make_error(Errc::internal, "connect failed");
      try {
        r = p->connector->connect(hp, pin, timeout, &p->cancel_connects);
      } catch (const std::exception& e) {
        r = make_error(Errc::internal, e.what());
      }
      std::lock_guard lock(p->mu);
      --p->connecting;
      if (!r) {
        set_err(err, err_cap, r.error().message);
        return r.error().code == Errc::invalid ? MESH_E_INVALID
               : r.error().code == Errc::state ? MESH_E_STATE
                                               : MESH_E_INTERNAL;
      }
      if (p->phase != Phase::active) {
        (*r)->close();
        return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
      }
      const std::uint64_t id = p->ids.fetch_add(1);
      p->peer_conns.emplace(id, std::move(*r));
      *conn = id;
      return MESH_OK;
    });
  }

  // Null for an unknown connection, and also once the plugin is stopped.
  std::shared_ptr<http::PeerConn> find_peer(std::uint64_t conn) {
    std::shared_ptr<http::PeerConn> c;
    with_entry(peer_conns, conn, [&](auto it) { c = it->second; });
    return c;
  }

  // A broken, timed-out or refused connection stays broken: the plugin closes it.
  static int32_t peer_code(const Error& e) {
    return e.code == Errc::invalid ? MESH_E_INVALID : MESH_E_STATE;
  }

  static int32_t h_peer_read(void* ctx, uint64_t conn, char* buf, size_t cap, size_t* got) {
    return guarded(ctx, [&](Runtime* p) {
      if (!got) return MESH_E_INVALID;
      *got = 0;
      if (cap && !buf) return MESH_E_INVALID;
      auto c = p->find_peer(conn);
      if (!c) return MESH_E_NOT_FOUND;
      auto r = c->read(buf, cap);
      if (!r) {
        p->log(spdlog::level::debug, r.error().message);
        return peer_code(r.error());
      }
      *got = *r;
      return MESH_OK;
    });
  }

  static int32_t h_peer_write(void* ctx, uint64_t conn, mesh_str data) {
    return guarded(ctx, [&](Runtime* p) {
      if (data.len && !data.ptr) return MESH_E_INVALID;
      auto c = p->find_peer(conn);
      if (!c) return MESH_E_NOT_FOUND;
      auto st = c->write(as_view(data));
      if (!st) {
        p->log(spdlog::level::debug, st.error().message);
        return peer_code(st.error());
      }
      return MESH_OK;
    });
  }

  static int32_t h_peer_close(void* ctx, uint64_t conn) {
    return guarded(ctx, [&](Runtime* p) {
      std::shared_ptr<http::PeerConn> c;
      int32_t rc = p->with_entry(p->peer_conns, conn, [&](auto it) {
        c = std::move(it->second);
        p->peer_conns.erase(it);
      });
      if (rc != MESH_OK) return rc;
      c->close();
      return MESH_OK;
    });
  }

  // ---- ABI 1.2: heartbeat ----

  static int32_t h_heartbeat_set(void* ctx, mesh_str json) {
    return guarded(ctx, [&](Runtime* p) {
      if (json.len > kMaxHeartbeatValue) return MESH_E_LIMIT;
      if (json.len && !json.ptr) return MESH_E_INVALID;
      std::string value;
      if (json.len) {
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(as_view(json), ec);
        if (ec) return MESH_E_INVALID;
        value = boost::json::serialize(v);
        if (value.size() > kMaxHeartbeatValue) return MESH_E_LIMIT;
      }
      // Under Runtime::mu, so a value set while stopping cannot outlive the stop.
      std::lock_guard lock(p->mu);
      if (p->phase != Phase::active) return MESH_E_STATE;
      if (!p->beats) return MESH_E_UNSUPPORTED;
      std::lock_guard beats_lock(p->beats->mu);
      if (value.empty())
        p->beats->values.erase(p->id);
      else
        p->beats->values[p->id] = std::move(value);
      return MESH_OK;
    });
  }

  static int32_t h_cli_verb(void* ctx, mesh_str verb, mesh_str summary, mesh_cli_handler handler,
                            void* user, char* err, size_t err_cap) {
    return guarded(ctx, err, err_cap, [&](Runtime* p) {
      std::string v(as_view(verb));
      if (!handler) return set_err(err, err_cap, "no handler"), MESH_E_INVALID;
      if (!valid_verb(v))
        return set_err(err, err_cap, "invalid verb (lower-case letters, digits, '-'; max 32)"),
               MESH_E_INVALID;
      if (summary.len > 200) return set_err(err, err_cap, "summary is too long"), MESH_E_LIMIT;
      std::lock_guard lock(p->mu);
      if (p->phase != Phase::active)
        return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
      if (p->verbs.size() >= kMaxVerbs)
        return set_err(err, err_cap, "too many verbs"), MESH_E_LIMIT;
      std::weak_ptr<Runtime> weak = p->weak_from_this();
      auto h = [weak, handler, user](control::Call&& call, control::Responder resp) {
        if (auto rt = weak.lock())
          rt->dispatch_cli(std::move(call), std::move(resp), handler, user);
        else if (resp.reply)
          resp.reply({1, "plugin is stopped"});
      };
      control::VerbInfo info{v, sanitize(as_view(summary), 200), p->id};
      if (!p->registry || !p->registry->add(std::move(info), std::move(h)))
        return set_err(err, err_cap, "verb '" + v + "' is already registered"), MESH_E_EXISTS;
      p->verbs.push_back(v);
      return MESH_OK;
    });
  }

  static int32_t h_cli_respond(void* ctx, uint64_t call_id, int32_t exit_code, mesh_str output) {
    return guarded(ctx, [&](Runtime* p) {
      if (exit_code < 0 || exit_code > 255) return MESH_E_INVALID;
      if (output.len > control::kMaxOutputBytes) return MESH_E_LIMIT;
      if (output.len && !output.ptr) return MESH_E_INVALID;
      std::shared_ptr<CliCall> c;
      int32_t rc = p->with_entry(p->cli_calls, call_id, [&](auto it) {
        c = std::move(it->second);
        p->cli_calls.erase(it);
        p->idle.notify_all();
      });
      if (rc != MESH_OK) return rc;
      std::lock_guard call_lock(c->mu);
      c->done = true;
      if (c->responder.reply) c->responder.reply({exit_code, std::string(as_view(output))});
      return MESH_OK;
    });
  }

  static int32_t h_cli_chunk(void* ctx, uint64_t call_id, mesh_str text) {
    return guarded(ctx, [&](Runtime* p) {
      if (text.len > control::kMaxLineBytes / 2) return MESH_E_LIMIT;
      if (text.len && !text.ptr) return MESH_E_INVALID;
      std::shared_ptr<CliCall> c;
      int32_t rc = p->with_entry(p->cli_calls, call_id, [&](auto it) { c = it->second; });
      if (rc != MESH_OK) return rc;
      std::lock_guard call_lock(c->mu);
      if (c->done) return MESH_E_NOT_FOUND;
      if (c->responder.connected && !c->responder.connected()) return MESH_E_NOT_FOUND;
      if (c->responder.chunk) c->responder.chunk(std::string(as_view(text)));
      return MESH_OK;
    });
  }

  static int32_t h_timer_start(void* ctx, uint64_t interval_ms, uint32_t repeat, mesh_timer_fn fn,
                               void* user, uint64_t* timer_id) {
    return guarded(ctx, [&](Runtime* p) {
      if (!fn || !timer_id) return MESH_E_INVALID;
      if (interval_ms > kMaxTimerMs) return MESH_E_LIMIT;
      if (repeat && interval_ms == 0) return MESH_E_INVALID;  // would spin
      std::lock_guard lock(p->mu);
      if (p->phase != Phase::active) return MESH_E_STATE;
      if (p->timers.size() >= kMaxTimers) return MESH_E_LIMIT;
      auto t = std::make_shared<Timer>(p->io);
      t->id = p->ids.fetch_add(1);
      t->interval = std::chrono::milliseconds(interval_ms);
      t->repeat = repeat != 0;
      t->fn = fn;
      t->user = user;
      p->timers.emplace(t->id, t);
      p->arm_locked(t);
      *timer_id = t->id;
      return MESH_OK;
    });
  }

  static int32_t h_timer_cancel(void* ctx, uint64_t timer_id) {
    return guarded(ctx, [&](Runtime* p) {
      return p->with_entry(p->timers, timer_id, [&](auto it) {
        it->second->cancelled = true;
        it->second->timer.cancel();
        p->timers.erase(it);
      });
    });
  }

  static int32_t h_publish(void* ctx, mesh_str topic, mesh_str payload, uint64_t* seq_out,
                           char* err, size_t err_cap) {
    return guarded(ctx, err, err_cap, [&](Runtime* p) {
      if (seq_out) *seq_out = 0;
      auto t = as_view(topic);
      if (!valid_topic(t))
        return set_err(err, err_cap, "invalid topic (expected [a-z][a-z0-9._-]{0,63})"),
               MESH_E_INVALID;
      if (reserved_topic(t))
        return set_err(err, err_cap, "topic '" + std::string(t) + "' is reserved to the daemon"),
               MESH_E_INVALID;
      if (payload.len > kMaxPayload)
        return set_err(err, err_cap, "payload is larger than 64 KiB"), MESH_E_LIMIT;
      if (payload.len && !payload.ptr) return set_err(err, err_cap, "null payload"), MESH_E_INVALID;
      if (!p->usable()) return set_err(err, err_cap, "plugin is stopped"), MESH_E_STATE;
      if (!p->bus)
        return set_err(err, err_cap, "this daemon runs without an event bus"), MESH_E_UNSUPPORTED;
      auto r = p->bus->publish(t, as_view(payload));
      if (!r) return set_err(err, err_cap, r.error().message), code_of(r.error().code);
      if (seq_out) *seq_out = *r;
      return MESH_OK;
    });
  }

  static int32_t h_subscribe(void* ctx, mesh_str name, mesh_str pattern, mesh_event_handler handler,
                             void* user, char* err, size_t err_cap) {
    return guarded(ctx, err, err_cap, [&](Runtime* p) {
      std::string n(as_view(name)), pat(as_view(pattern));
      if (!handler) return set_err(err, err_cap, "no handler"), MESH_E_INVALID;
      if (!valid_subscription_name(n))
        return set_err(err, err_cap,
                       "invalid subscription name (expected [a-z0-9][a-z0-9._-]{0,47})"),
               MESH_E_INVALID;
      if (!valid_pattern(pat))
        return set_err(err, err_cap,
                       "invalid topic pattern (a topic, which also matches its subtopics, or *)"),
               MESH_E_INVALID;
      if (!p->bus)
        return set_err(err, err_cap, "this daemon runs without an event bus"), MESH_E_UNSUPPORTED;
      auto sub = std::make_shared<Subscription>();
      sub->name = n;
      sub->bus_name = bus_subscription_name(p->id, n);
      sub->fn = handler;
      sub->user = user;
      {
        std::lock_guard lock(p->mu);
        if (p->phase != Phase::active)
          return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
        if (p->subs.count(n))
          return set_err(err, err_cap, "subscription '" + n + "' exists"), MESH_E_EXISTS;
        if (p->subs.size() >= kMaxSubscriptions)
          return set_err(err, err_cap, "too many subscriptions (at most 64)"), MESH_E_LIMIT;
        p->subs.emplace(n, sub);  // reserved before the bus knows it: deliveries may come at once
      }
      std::weak_ptr<Runtime> weak = p->weak_from_this();
      auto st = p->bus->subscribe(sub->bus_name, pat, [weak, sub](const BusEvent& ev) {
        auto rt = weak.lock();
        return rt && rt->deliver_event(sub, ev);
      });
      bool gone = false;
      {
        std::lock_guard lock(p->mu);
        if (!st) {
          auto it = p->subs.find(n);
          if (it != p->subs.end() && it->second == sub) p->subs.erase(it);
          sub->removed = true;
          set_err(err, err_cap, st.error().message);
          return code_of(st.error().code);
        }
        gone = sub->removed;
      }
      // Stopped (or unsubscribed) while the bus was subscribing: undo, the quiesce missed it.
      if (gone) {
        p->bus->unsubscribe(sub->bus_name);
        return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
      }
      return MESH_OK;
    });
  }

  static int32_t h_unsubscribe(void* ctx, mesh_str name) {
    return guarded(ctx, [&](Runtime* p) {
      std::shared_ptr<Subscription> sub;
      int32_t rc = p->with_entry(p->subs, as_view(name), [&](auto it) {
        sub = std::move(it->second);
        p->subs.erase(it);
        sub->removed = true;
      });
      if (rc != MESH_OK) return rc;
      if (p->bus) p->bus->unsubscribe(sub->bus_name);
      return MESH_OK;
    });
  }

  static int32_t bus_json(void* ctx, char* buf, size_t cap, size_t* needed, bool peers) {
    return guarded(ctx, [&](Runtime* p) {
      if (!p->usable()) return MESH_E_STATE;
      if (!p->bus) return MESH_E_UNSUPPORTED;
      return copy_out(peers ? p->bus->peers_json() : p->bus->self_json(), buf, cap, needed);
    });
  }
  static int32_t h_peers_json(void* ctx, char* buf, size_t cap, size_t* needed) {
    return bus_json(ctx, buf, cap, needed, true);
  }
  static int32_t h_self_json(void* ctx, char* buf, size_t cap, size_t* needed) {
    return bus_json(ctx, buf, cap, needed, false);
  }

  void init_host_table() {
    host = mesh_host{};
    host.struct_size = sizeof(mesh_host);
    host.abi_major = MESH_ABI_MAJOR;
    host.abi_minor = MESH_ABI_MINOR;
    host.ctx = this;
    host.log = &h_log;
    host.config_json = &h_config_json;
    host.data_dir = &h_data_dir;
    host.http_route = &h_http_route;
    host.http_respond = &h_http_respond;
    host.cli_verb = &h_cli_verb;
    host.cli_respond = &h_cli_respond;
    host.timer_start = &h_timer_start;
    host.timer_cancel = &h_timer_cancel;
    host.cli_chunk = &h_cli_chunk;
    host.publish = &h_publish;
    host.subscribe = &h_subscribe;
    host.unsubscribe = &h_unsubscribe;
    host.peers_json = &h_peers_json;
    host.self_json = &h_self_json;
    host.http_route2 = &h_http_route2;
    host.http_read = &h_http_read;
    host.http_begin = &h_http_begin;
    host.http_write = &h_http_write;
    host.http_end = &h_http_end;
    host.peer_connect = &h_peer_connect;
    host.peer_read = &h_peer_read;
    host.peer_write = &h_peer_write;
    host.peer_close = &h_peer_close;
    host.heartbeat_set = &h_heartbeat_set;
  }

  // Takes the plugin off the routes, verbs, timers, bus and heartbeat, aborts its streamed
  // calls and closes its peer connections, waits for its running callbacks and answers its
  // pending calls. Afterwards only log/respond/cancel/publish work until `stopped`.
  void quiesce() {
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
      rs.swap(routes);
      vs.swap(verbs);
      ss.swap(subs);
      for (auto& [name, sub] : ss) sub->removed = true;
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

    {
      std::unique_lock lock(mu);
      auto started = std::chrono::steady_clock::now();
      while (running > 0) {
        if (idle.wait_for(lock, 5s, [&] { return running == 0; })) break;
        auto secs = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::steady_clock::now() - started);
        log(spdlog::level::warn, fmt::format("still waiting for {} running callback(s) after {}s",
                                             running, secs.count()));
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

  void mark_stopped() {
    std::lock_guard lock(mu);
    phase = Phase::stopped;
    // Anything answered late (respond after stop) was already answered above.
    http_calls.clear();
    cli_calls.clear();
  }

  // The whole shutdown: quiesce, stop() (if started), destroy() (if created).
  void shutdown(bool call_stop, bool call_destroy) {
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
  }
};

struct Manager::Impl {
  explicit Impl(HostServices s)
      : svc(std::move(s)), pool(std::max<std::size_t>(1, svc.executor_threads)) {
    if (!svc.peer_tls.cert_pem.empty()) {
      auto c = http::PeerConnector::create(svc.peer_tls, svc.is_member);
      if (c)
        connector = std::move(*c);
      else
        spdlog::warn("plugins get no peer connections: {}", c.error().message);
    }
  }

  HostServices svc;
  asio::thread_pool pool;
  std::atomic<std::uint64_t> ids{1};
  std::shared_ptr<const http::PeerConnector> connector;  // null: peer_connect unsupported
  std::shared_ptr<Beats> beats = std::make_shared<Beats>();

  std::mutex apply_mu;                                // one apply/stop_all at a time
  std::vector<boost::dll::shared_library> libraries;  // never unloaded while we live
  std::vector<std::shared_ptr<Runtime>> graveyard;    // stopped runtimes (stale ctx safety)
  std::vector<std::shared_ptr<Runtime>> running;      // in start order

  mutable std::mutex info_mu;
  std::vector<PluginInfo> infos;

  PluginInfo& info_locked(const std::string& id) {
    for (auto& i : infos)
      if (i.id == id) return i;
    infos.push_back(PluginInfo{id, "", "", false, "stopped", ""});
    return infos.back();
  }

  void set_info(const std::string& id, const std::function<void(PluginInfo&)>& fn) {
    std::lock_guard lock(info_mu);
    fn(info_locked(id));
  }

  void fail(const std::string& id, const std::string& what) {
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

  std::vector<std::filesystem::path> search_dirs(const config::PluginsConfig& cfg) const {
    std::vector<std::filesystem::path> dirs;
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

    // 1. Find <id>.json in the search directories, configured paths first.
    std::filesystem::path manifest_path;
    std::string looked;
    for (const auto& dir : search_dirs(cfg)) {
      std::error_code ec;
      auto candidate = dir / (id + ".json");
      if (std::filesystem::is_regular_file(candidate, ec)) {
        manifest_path = candidate;
        break;
      }
      looked += (looked.empty() ? "" : ", ") + dir.string();
    }
    if (manifest_path.empty())
      return fail(id, "not found (no " + id + ".json in " +
                          (looked.empty() ? "any directory" : looked) + ")");

    // 2. Manifest: parse, validate, negotiate the ABI before any code is mapped.
    auto text = read_file(manifest_path, kMaxManifestBytes);
    if (!text) return fail(id, "manifest: " + text.error().message);  // the message names the file
    auto man = parse_manifest(*text);
    if (!man) return fail(id, manifest_path.string() + ": " + man.error().message);
    set_info(id, [&](PluginInfo& i) {
      i.version = man->version;
      i.abi = abi_text(man->abi_major, man->abi_minor);
    });
    if (man->id != id)
      return fail(id, "manifest " + manifest_path.string() + " is for id '" + man->id + "'");
    if (auto e = check_abi(man->abi_major, man->abi_minor); !e.empty()) return fail(id, e);

    // 3. The library must be exactly the one the manifest describes.
    auto lib_path = manifest_path.parent_path() / man->library;
    auto sha = sha256_file(lib_path);
    if (!sha) return fail(id, sha.error().message);
    if (*sha != man->sha256)
      return fail(id, man->library + " does not match its manifest (sha256 " + sha->substr(0, 16) +
                          "... instead of " + man->sha256.substr(0, 16) +
                          "...); rebuild or reinstall it");

    // 4. Map it (RTLD_NOW: unresolved symbols fail here, not later) and find the entry.
    boost::dll::fs::error_code ec;
    boost::dll::shared_library lib;
    dlerror();  // clear any stale message
    lib.load(std::filesystem::absolute(lib_path),
             boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
    if (ec || !lib.is_loaded()) {
      const char* why = dlerror();
      return fail(id, "cannot load " + lib_path.string() + ": " +
                          (why ? sanitize(why, 512) : ec.message()));
    }
    libraries.push_back(lib);  // kept: its code stays mapped while the daemon runs
    if (!lib.has(MESH_PLUGIN_ENTRY_SYMBOL))
      return fail(id, std::string("no entry symbol ") + MESH_PLUGIN_ENTRY_SYMBOL);
    auto& entry =
        lib.get<const mesh_plugin_descriptor*(uint32_t, uint32_t)>(MESH_PLUGIN_ENTRY_SYMBOL);

    // 5. Negotiate with the descriptor.
    const mesh_plugin_descriptor* d = nullptr;
    try {
      d = entry(MESH_ABI_MAJOR, MESH_ABI_MINOR);
    } catch (...) {
      return fail(id, "threw an exception across the ABI in mesh_plugin_entry");
    }
    if (!d)
      return fail(
          id, "mesh_plugin_entry returned no descriptor (the plugin does not support host ABI " +
                  abi_text(MESH_ABI_MAJOR, MESH_ABI_MINOR) + ")");
    if (d->struct_size < offsetof(mesh_plugin_descriptor, id))
      return fail(id, "descriptor is too small (" + std::to_string(d->struct_size) + " bytes)");
    set_info(id, [&](PluginInfo& i) { i.abi = abi_text(d->abi_major, d->abi_minor); });
    if (auto e = check_abi(d->abi_major, d->abi_minor); !e.empty()) return fail(id, e);
    if (d->struct_size < sizeof(mesh_plugin_descriptor))
      return fail(id, "descriptor is too small (" + std::to_string(d->struct_size) +
                          " bytes, ABI " + abi_text(MESH_ABI_MAJOR, MESH_ABI_MINOR) + " needs " +
                          std::to_string(sizeof(mesh_plugin_descriptor)) + ")");
    if (!d->id || !d->version || !d->create || !d->start || !d->stop || !d->destroy)
      return fail(id, "descriptor has a null id, version or function");
    const std::string desc_id(d->id, strnlen(d->id, 65));
    const std::string desc_version =
        sanitize(std::string_view(d->version, strnlen(d->version, 65)), 64);
    if (desc_id != man->id) {
      std::string shown = sanitize(desc_id, 64);
      if (find_running(desc_id))
        return fail(id, "its descriptor claims id '" + shown +
                            "', which is already taken by a running plugin");
      return fail(id,
                  "descriptor id '" + shown + "' does not match the manifest id '" + man->id + "'");
    }
    if (find_running(desc_id)) return fail(id, "a plugin with this id is already running");
    if (desc_version != man->version)
      spdlog::warn("plugin '{}': descriptor version {} differs from the manifest's {}", id,
                   desc_version, man->version);
    set_info(id, [&](PluginInfo& i) { i.version = desc_version; });

    // 6. Its data directory.
    auto dir = svc.data_root / id;
    if (auto st = ensure_dir(dir); !st)
      return fail(id, "cannot create " + dir.string() + ": " + st.error().message);

    // 7. create() and start(), each behind a catch-all.
    auto rt = std::make_shared<Runtime>(id, svc.io, pool, ids, svc.router, svc.verbs);
    rt->desc = d;
    rt->version = desc_version;
    rt->data_dir = std::filesystem::absolute(dir).string();
    rt->settings = settings_for(id, cfg);
    rt->bus = svc.bus;
    rt->event_timeout = svc.event_handler_timeout;
    rt->connector = connector;
    rt->beats = beats;
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
    spdlog::info("plugin '{}' {} started (ABI {})", id, desc_version,
                 abi_text(d->abi_major, d->abi_minor));
  }

  static std::string describe(int32_t rc, const char* err) {
    std::string msg = plugin_message(err, MESH_ERR_CAP);
    if (msg.empty()) msg = std::string("error ") + code_name(rc) + " without a message";
    return msg;
  }

  static std::string check_abi(std::uint32_t major, std::uint32_t minor) {
    const auto host = abi_text(MESH_ABI_MAJOR, MESH_ABI_MINOR);
    if (major != MESH_ABI_MAJOR)
      return "built for ABI " + abi_text(major, minor) + ", host is " + host;
    if (minor > MESH_ABI_MINOR)
      return "built for ABI " + abi_text(major, minor) + " which is newer than the host's " + host;
    return {};
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

  void stop_one(const std::shared_ptr<Runtime>& rt) {
    spdlog::info("plugin '{}' stopping", rt->id);
    rt->shutdown(true, true);
    std::erase(running, rt);
    set_info(rt->id, [&](PluginInfo& i) {
      i.state = "stopped";
      i.error.clear();
    });
  }

  void apply(const config::PluginsConfig& cfg) {
    std::lock_guard lock(apply_mu);
    std::set<std::string> wanted(cfg.enabled.begin(), cfg.enabled.end());

    // Disabled ones first, newest first.
    std::vector<std::shared_ptr<Runtime>> to_stop;
    for (auto it = running.rbegin(); it != running.rend(); ++it)
      if (!wanted.count((*it)->id)) to_stop.push_back(*it);
    for (const auto& rt : to_stop) stop_one(rt);
    {
      std::lock_guard ilock(info_mu);
      for (auto& i : infos) i.enabled = wanted.count(i.id) > 0;
    }
    // Settings of the ones that keep running.
    for (const auto& rt : running) {
      std::string s = settings_for(rt->id, cfg);
      std::lock_guard rlock(rt->mu);
      rt->settings = std::move(s);
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
  }

  void stop_all() {
    std::lock_guard lock(apply_mu);
    while (!running.empty()) stop_one(running.back());
  }
};

Manager::Manager(HostServices services) : impl_(std::make_unique<Impl>(std::move(services))) {}

Manager::~Manager() {
  stop_all();
  // Queued callbacks see their plugin stopped and only answer 503; let them drain.
  impl_->pool.join();
}

void Manager::apply(const config::PluginsConfig& plugins) {
  try {
    impl_->apply(plugins);
  } catch (const std::exception& e) {
    spdlog::error("plugin manager: apply failed: {}", e.what());
  } catch (...) {
    spdlog::error("plugin manager: apply failed");
  }
}

std::vector<PluginInfo> Manager::list() const {
  std::lock_guard lock(impl_->info_mu);
  return impl_->infos;
}

std::map<std::string, std::string> Manager::heartbeat_values() const {
  std::lock_guard lock(impl_->beats->mu);
  return impl_->beats->values;
}

void Manager::stop_all() {
  try {
    impl_->stop_all();
  } catch (...) {
    spdlog::error("plugin manager: stop_all failed");
  }
}

}  // namespace mesh::plugin
