// The running daemon's state shared by the core verbs and routes (internal to app).
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "mesh/config/config.hpp"
#include "mesh/control/control.hpp"
#include "mesh/discovery/discovery.hpp"
#include "mesh/gossip/engine.hpp"
#include "mesh/http/router.hpp"
#include "mesh/http/server.hpp"
#include "mesh/identity/identity.hpp"
#include "mesh/links/link_manager.hpp"
#include "mesh/plugin/manager.hpp"
#include "mesh/web/site.hpp"
#include "team.hpp"

namespace mesh::app {

struct Daemon {
  std::filesystem::path root;
  identity::PublicKey key;
  std::string listen;  // the bound address

  mutable std::mutex mu;
  config::Config config;  // the config in force (guarded by mu)

  std::shared_ptr<http::Router> router;
  std::shared_ptr<control::Registry> verbs;
  std::unique_ptr<gossip::Engine> engine;
  std::unique_ptr<Team> team;
  std::unique_ptr<links::LinkManager> links;
  std::unique_ptr<discovery::Discovery> discovery;  // null when disabled
  std::unique_ptr<plugin::Manager> plugins;
  // The web layer (pages, assets, SSE); shared with the plugin host (ui_*, sse_publish).
  std::shared_ptr<web::Site> web;

  // Set once plugins are applied and links started: `status` answers only then, which is what
  // `mesh start --detach` waits for.
  std::atomic<bool> ready{false};

  // Set by SIGINT/SIGTERM or `mesh stop`; the main thread waits for it.
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stop_requested = false;
  void request_stop() {
    std::lock_guard lock(stop_mu);
    stop_requested = true;
    stop_cv.notify_all();
  }
};

// [gossip] of mesh.toml as the engine's limits.
inline gossip::Limits gossip_limits(const config::GossipConfig& c) {
  gossip::Limits l;
  l.events_per_minute = c.max_events_per_minute;
  l.event_burst = c.event_burst;
  l.feed_bytes_per_day = c.max_feed_bytes_per_day;
  l.live_per_minute = c.max_live_per_minute;
  l.sync_per_minute = c.max_sync_per_minute;
  return l;
}

// Registers status, id, plugins, reload, stop and verbs on the control registry.
void register_core_verbs(Daemon& daemon);
// Makes daemon.web (before the plugin host, which serves the ui_* calls from it).
void create_web(Daemon& daemon, const identity::Identity& self);
// Registers the web layer's routes (/assets, /events), the node page at "/" and its live
// updates.
void register_core_routes(Daemon& daemon);

}  // namespace mesh::app
