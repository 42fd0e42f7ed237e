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

// Registers status, id, plugins, reload, stop and verbs on the control registry.
void register_core_verbs(Daemon& daemon);
// Registers the web status page.
void register_core_routes(Daemon& daemon);

}  // namespace mesh::app
