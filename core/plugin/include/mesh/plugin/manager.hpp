// Loads plugins (manifest + Boost.DLL, RTLD_NOW|RTLD_LOCAL), negotiates the ABI, hands each
// its host table and runs the lifecycle. The only module that includes sdk/ headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/config/config.hpp"
#include "mesh/control/control.hpp"
#include "mesh/http/router.hpp"
#include "mesh/http/server.hpp"
#include "mesh/identity/identity.hpp"

namespace boost::asio {
class io_context;
}
namespace mesh::web {
class Site;
}

namespace mesh::plugin {

// What `mesh plugins` shows for each configured or loaded plugin.
struct PluginInfo {
  std::string id;
  std::string version;   // from the descriptor (or manifest when it failed before that)
  std::string abi;       // "1.2"
  bool enabled = false;  // listed in [plugins] enabled
  std::string state;     // "running" | "stopping" | "stopped" | "failed"
  std::string error;     // why it failed; empty otherwise
  // Its executor, while it runs: callbacks waiting for a thread, callbacks running now, and
  // the subscriptions whose handler overran the event timeout and still runs.
  std::size_t queued = 0;
  std::size_t running = 0;
  std::vector<std::string> stalled;
};

// What a running plugin contributes to `mesh status` and the node page (ABI 1.3 status_set).
struct StatusSection {
  std::string plugin;  // its id
  std::string json;    // a compact JSON object whose members join `mesh status --json`, or ""
  std::string text;    // for `mesh status`: a heading line, then the plugin's lines
  std::string html;    // a fragment for the page at "/": the plugin's own markup, inserted as is
};

// The keys of `mesh status --json` that the core fills; a section may not set them.
bool is_core_status_key(std::string_view key);

// One event as the bus hands it to a subscriber; payload is borrowed for the handler call.
struct BusEvent {
  std::string origin_id;  // "mesh:..."
  std::uint64_t seq = 0;  // 0 for ephemeral topics
  std::uint64_t lamport = 0;
  std::uint64_t wall_ms = 0;
  std::string topic;
  std::string_view payload;
};

// The topic bus plugins publish to and subscribe on: implemented by the app over the gossip
// engine, so this module does not depend on the engine's concrete type. Requirements on an
// implementation (the Manager relies on them to stay deadlock-free):
//  - publish/subscribe/unsubscribe are thread-safe and may be called from any thread, also
//    while a handler of the same bus is running on a delivery thread; publish and subscribe
//    never wait for a handler nor run one synchronously (unsubscribe waits only for its own
//    subscription's call in flight, which the Manager bounds: see deliver_event);
//  - handlers are called without bus locks held, one event at a time per subscription, and a
//    handler that blocks delays only its own subscription (each has its own delivery thread);
//  - unsubscribe returns once the subscription's handler call in flight has returned.
class EventBus {
 public:
  virtual ~EventBus() = default;
  // Stored topics are appended to this node's feed (returns the seq); ephemeral ones are
  // pushed to live links only (returns 0).
  virtual Result<std::uint64_t> publish(std::string_view topic, std::string_view payload) = 0;
  // Stored events matching `pattern` reach `handler` exactly once per node, in per-origin seq
  // order, through the persisted cursor `name` ([a-z][a-z0-9._-]{0,63}); ephemeral events
  // reach it live. The handler runs on the subscription's delivery thread and may block (the
  // Manager hands the event to the plugin's executor and waits); false = redeliver later.
  virtual Status subscribe(std::string name, std::string pattern,
                           std::function<bool(const BusEvent&)> handler) = 0;
  // Detaches the handler and keeps the cursor. After it returns no new handler call starts.
  virtual void unsubscribe(const std::string& name) = 0;
  virtual std::string peers_json() const = 0;  // `mesh peers --json`: the other members
  virtual std::string self_json() const = 0;   // {"name":..,"id":"mesh:.."}
};

// The cursor name a plugin's subscription `name` gets on the bus: "plugin.<id>.<name>", or
// "plugin.<16 hex digits>" (a stable hash of id and name) when that would exceed 64 characters.
// Plugins cannot reach each other's cursors: ids contain no '.'.
std::string bus_subscription_name(std::string_view plugin_id, std::string_view name);

struct HostServices {
  boost::asio::io_context& io;                     // timers
  std::shared_ptr<http::Router> router;            // plugin HTTP routes
  std::shared_ptr<control::Registry> verbs;        // plugin CLI verbs
  std::filesystem::path data_root;                 // <root>/data; each plugin gets <data_root>/<id>
  std::filesystem::path repos_root{};              // <root>/repos (repos_dir); empty: not offered
  std::vector<std::filesystem::path> search_dirs;  // where <id>.so and <id>.json are looked up
  std::shared_ptr<EventBus> bus{};                 // null: publish/subscribe are unsupported
  // How long a subscription's delivery thread waits for a plugin's event handler before it
  // answers "redeliver later" (the handler keeps running; its late verdict is remembered).
  std::chrono::milliseconds event_handler_timeout{10'000};
  // ABI 1.2 peer connections are made with this node's certificate and key and accept servers
  // whose key passes is_member. Without a certificate peer_connect is unsupported.
  identity::TlsMaterial peer_tls{};
  http::MemberCheck is_member{};
  // ABI 1.3 web layer (ui_render, ui_respond, ui_asset, ui_nav, markdown_render, sse_publish).
  // Null: those calls answer MESH_E_UNSUPPORTED.
  std::shared_ptr<web::Site> site{};
  // ABI 1.3 runner registry: job_submit takes declared secrets from this file (<root>/secrets.yml;
  // empty: a job that declares any is refused) and obeys `runner` (set_runner_config on reload).
  std::filesystem::path secrets_file{};
  config::RunnerConfig runner{};
  // The daemon's environment, for PATH/HOME/LANG, env_passthrough and ${VAR} in secrets.yml.
  // Empty: getenv.
  std::function<std::optional<std::string>(std::string_view)> environment{};
};

// What an apply or reload did, for its reply.
struct ApplyReport {
  // Why nothing was applied ("too many reloads are waiting", "the daemon is stopping").
  std::string error;
  // Settings refused by the plugins' check_config (reload only), one located message each
  // ("<file>:<line>: [plugins.<id>] <setting>: <why>"): then nothing was applied either.
  std::vector<std::string> refused;
  // Plugins whose settings changed, restarted (stop + start) so that they read the new ones.
  std::vector<std::string> restarted;
  // Plugins that failed to load or start in this apply (`mesh plugins` says why).
  std::vector<std::string> failed;
  // Plugins whose stop() overran [plugins] stop_timeout_ms: they stay "stopping" until it
  // returns (and start again then if they are still enabled).
  std::vector<std::string> stuck;

  static ApplyReport refusal(std::string why) {
    ApplyReport r;
    r.error = std::move(why);
    return r;
  }
};

class Manager {
 public:
  explicit Manager(HostServices services);
  ~Manager();  // stops everything (reverse order)
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Brings the running set in line with the config: stops and destroys plugins no longer
  // enabled, loads and starts newly enabled ones (in the listed order), and refreshes settings.
  // A plugin that fails is recorded with its error and skipped; this never throws. Waits for
  // each plugin's stop at most [plugins] stop_timeout_ms (see ApplyReport::stuck).
  ApplyReport apply(const config::PluginsConfig& plugins);

  // Validate, then apply, on the Manager's own worker thread, so the caller's thread (the
  // control socket's I/O thread) never waits for a plugin. First every enabled plugin's
  // check_config sees its new settings; if any refuses, nothing changes (ApplyReport::refused).
  // Then apply(), restarting the running plugins whose settings changed. `done` is called on
  // the worker with the report. One reload runs at a time; a few more wait their turn, beyond
  // that done() says so at once.
  void reload(config::PluginsConfig plugins, std::function<void(ApplyReport)> done);

  std::vector<PluginInfo> list() const;

  // ABI 1.2: what running plugins set with heartbeat_set, plugin id -> compact JSON text.
  // Thread-safe and never waits for a plugin (the gossip engine calls it for every heartbeat).
  std::map<std::string, std::string> heartbeat_values() const;

  // ABI 1.3: what running plugins set with status_set, by plugin id. A plugin's section goes
  // away when it stops. Thread-safe and never waits for a plugin.
  std::vector<StatusSection> status_sections() const;

  // ABI 1.3: replaces the [runner] policy (mesh reload). Jobs already running keep going; the
  // next job_submit and runners_json see the new one.
  void set_runner_config(config::RunnerConfig runner);
  // The runners of this node as runners_json shows them to plugins.
  std::string runners_json() const;

  // Ends the reload worker (waiting reloads are answered "the daemon is stopping"), then stops
  // and destroys every running plugin, in reverse start order, and waits for every stop still
  // in progress: a plugin that never returns from stop() holds up the daemon's shutdown.
  void stop_all();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mesh::plugin
