// Loads plugins (manifest + Boost.DLL, RTLD_NOW|RTLD_LOCAL), negotiates the ABI, hands each
// its host table and runs the lifecycle. The only module that includes sdk/ headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
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

namespace mesh::plugin {

// What `mesh plugins` shows for each configured or loaded plugin.
struct PluginInfo {
  std::string id;
  std::string version;   // from the descriptor (or manifest when it failed before that)
  std::string abi;       // "1.2"
  bool enabled = false;  // listed in [plugins] enabled
  std::string state;     // "running" | "stopped" | "failed"
  std::string error;     // why it failed; empty otherwise
};

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
//    while a handler of the same bus is running on the delivery thread: they must not wait
//    for a running handler, nor run handlers synchronously;
//  - handlers are called without bus locks held, one event at a time per subscription.
class EventBus {
 public:
  virtual ~EventBus() = default;
  // Stored topics are appended to this node's feed (returns the seq); ephemeral ones are
  // pushed to live links only (returns 0).
  virtual Result<std::uint64_t> publish(std::string_view topic, std::string_view payload) = 0;
  // Stored events matching `pattern` reach `handler` exactly once per node, in per-origin seq
  // order, through the persisted cursor `name` ([a-z][a-z0-9._-]{0,63}); ephemeral events
  // reach it live. The handler runs on the bus's delivery thread and may block (the Manager
  // hands the event to the plugin executor and waits); returning false = redeliver later.
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
  std::vector<std::filesystem::path> search_dirs;  // where <id>.so and <id>.json are looked up
  std::size_t executor_threads = 2;                // the plugin executor's size
  std::shared_ptr<EventBus> bus{};                 // null: publish/subscribe are unsupported
  // How long the bus's delivery thread waits for a plugin's event handler before it answers
  // "redeliver later" (the handler keeps running; its late verdict is remembered).
  std::chrono::milliseconds event_handler_timeout{10'000};
  // ABI 1.2 peer connections are made with this node's certificate and key and accept servers
  // whose key passes is_member. Without a certificate peer_connect is unsupported.
  identity::TlsMaterial peer_tls{};
  http::MemberCheck is_member{};
};

class Manager {
 public:
  explicit Manager(HostServices services);
  ~Manager();  // stops everything (reverse order)
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Brings the running set in line with the config: stops and destroys plugins no longer
  // enabled, loads and starts newly enabled ones (in the listed order), and refreshes settings.
  // A plugin that fails is recorded with its error and skipped; this never throws.
  void apply(const config::PluginsConfig& plugins);

  std::vector<PluginInfo> list() const;

  // ABI 1.2: what running plugins set with heartbeat_set, plugin id -> compact JSON text.
  // Thread-safe and never waits for a plugin (the gossip engine calls it for every heartbeat).
  std::map<std::string, std::string> heartbeat_values() const;

  // Stops and destroys every running plugin, in reverse start order.
  void stop_all();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mesh::plugin
