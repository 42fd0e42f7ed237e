#include "daemon.hpp"

#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "addresses.hpp"
#include "logging.hpp"
#include "mesh/app/app.hpp"
#include "mesh/app/event_bus.hpp"
#include "mesh/http/websocket.hpp"
#include "mesh/identity/local_tls.hpp"
#include "mesh/web/csrf.hpp"
#include "pidfile.hpp"

namespace mesh::app {
namespace fs = std::filesystem;
namespace asio = boost::asio;

std::string default_node_name();

namespace {

constexpr auto kShutdownDeadline = std::chrono::seconds(5);

int fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::fflush(stderr);
  // Printed above once; the log file gets it too, but not stderr a second time.
  log_error_to_file(message);
  return 1;
}

}  // namespace

int run_daemon(const DaemonOptions& options) {
  const fs::path root = options.root;
  auto init = init_root(root, default_node_name());
  if (!init) return fail(init.error().message);

  auto lock = PidLock::acquire(pid_path(root));
  if (!lock) return fail(lock.error().message);

  auto cfg = config::load(config_path(root));
  if (!cfg) return fail(cfg.error().message);
  auto listen = config::parse_host_port(options.listen.value_or(cfg->http.listen));
  if (!listen) return fail("--listen: " + listen.error().message);

  if (auto st = setup_logging(log_path(root), cfg->log, options.foreground_log); !st) {
    return fail(st.error().message);
  }
  auto ident = identity::Identity::load(root);
  if (!ident) return fail(ident.error().message);
  auto tls = ident->tls_material(cfg->node.name);
  if (!tls) return fail(tls.error().message);
  // Local clients that lack TLS 1.3 or Ed25519 get a P-256 certificate; both are written to
  // <root>/tls/local-ca.pem for `mesh ssl`.
  auto local_tls = identity::load_or_create_local_tls(root, cfg->node.name);
  if (!local_tls) return fail(local_tls.error().message);
  if (auto st = identity::write_local_ca(root, tls->cert_pem, local_tls->cert_pem); !st) {
    return fail("cannot write " + identity::local_ca_path(root).string() + ": " +
                st.error().message);
  }

  asio::io_context io;
  Daemon daemon;
  gossip::EngineOptions gossip_options;
  gossip_options.root = root;
  gossip_options.self = &*ident;
  gossip_options.self_name = cfg->node.name;
  gossip_options.limits = gossip_limits(cfg->gossip);
  gossip_options.now_ms = [] {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  };
  // Heartbeats advertise the running plugins; the manager is created below, before any tick.
  gossip_options.capabilities = [&daemon] {
    std::vector<std::string> caps;
    if (daemon.plugins) {
      for (const auto& p : daemon.plugins->list()) {
        if (p.state == "running") caps.push_back("plugin:" + p.id);
      }
    }
    return caps;
  };
  // And what each running plugin put into it (ABI 1.2 heartbeat_set).
  gossip_options.heartbeat_plugins = [&daemon] {
    return daemon.plugins ? daemon.plugins->heartbeat_values()
                          : std::map<std::string, std::string>();
  };
  auto engine = gossip::Engine::open(std::move(gossip_options));
  if (!engine) return fail("cannot open the feeds: " + engine.error().message);
  daemon.engine = std::move(*engine);
  daemon.root = root;
  daemon.key = ident->public_key();
  daemon.config = *cfg;
  daemon.router = std::make_shared<http::Router>();
  daemon.verbs = std::make_shared<control::Registry>();

  http::ServerOptions server_options;
  server_options.listen = *listen;
  server_options.limits = cfg->http;
  server_options.tls = *tls;
  server_options.local_tls = *local_tls;
  // The web UI's CSRF token, enforced by the server on local routes (the same token the web
  // layer puts into pages, create_web).
  server_options.csrf_token = web::CsrfToken(*ident).value();
  // Every TLS handshake checks the roster: a removed member is refused at its next connection.
  server_options.is_member = [engine = daemon.engine.get()](const identity::PublicKey& key) {
    return engine->roster().is_member(key);
  };
  auto server = http::Server::start(io, std::move(server_options), daemon.router);
  if (!server) return fail(server.error().message);
  daemon.listen = (*server)->local_address();

  TeamContext team_ctx;
  team_ctx.root = root;
  team_ctx.self = &*ident;
  team_ctx.tls = *tls;
  team_ctx.engine = daemon.engine.get();
  team_ctx.io = &io;
  team_ctx.node_name = [&daemon] {
    std::lock_guard lock(daemon.mu);
    return daemon.config.node.name;
  };
  team_ctx.listen = daemon.listen;
  team_ctx.advertise = cfg->http.advertise;
  const std::string host_scope = team::host_scope();
  team_ctx.host_scope = host_scope;
  daemon.team = std::make_unique<Team>(std::move(team_ctx));
  links::LinkManagerOptions link_options;
  link_options.tls = *tls;
  link_options.self = ident->public_key();
  link_options.host_scope = host_scope;
  link_options.configured_addresses = [team = daemon.team.get()](const identity::PublicKey& k) {
    return team->configured_addresses(k);
  };
  daemon.links = links::LinkManager::create(io, *daemon.engine, std::move(link_options));
  daemon.team->set_links(daemon.links.get());
  daemon.router->add_websocket(
      "/mesh/link",
      [links = daemon.links.get()](const http::Request&, std::shared_ptr<http::WsConnection> conn) {
        links->accept(std::move(conn));
      });
  daemon.engine->on_roster_change([links = daemon.links.get()] { links->refresh(); });
  daemon.team->register_verbs(*daemon.verbs);
  daemon.team->register_routes(*daemon.router);

  plugin::HostServices services{.io = io,
                                .router = daemon.router,
                                .verbs = daemon.verbs,
                                .data_root = root / "data",
                                .repos_root = root / "repos",
                                .search_dirs = default_plugin_dirs()};
  // Plugins' peer connections present this node's certificate and trust the roster, like links.
  services.peer_tls = *tls;
  services.is_member = [engine = daemon.engine.get()](const identity::PublicKey& key) {
    return engine->roster().is_member(key);
  };
  services.bus = make_event_bus(
      *daemon.engine, [&daemon] { return boost::json::serialize(daemon.team->peers_json()); },
      [&daemon, id = ident->id()] {
        std::lock_guard lock(daemon.mu);
        std::error_code ec;  // plugins (the updater) restart the daemon with these
        return boost::json::serialize(
            boost::json::object{{"name", daemon.config.node.name},
                                {"id", id},
                                {"version", MESH_VERSION},
                                {"listen", daemon.listen},
                                {"root", fs::absolute(daemon.root, ec).string()},
                                {"exe", fs::read_symlink("/proc/self/exe", ec).string()}});
      });
  create_web(daemon, *ident);
  // ABI 1.3: plugin pages, assets and events go through the Site; jobs obey [runner] and take
  // their declared secrets from <root>/secrets.yml.
  services.site = daemon.web;
  services.secrets_file = root / "secrets.yml";
  services.runner = cfg->runner;
  daemon.plugins = std::make_unique<plugin::Manager>(std::move(services));
  register_core_verbs(daemon);
  register_core_routes(daemon);

  auto control_server = control::Server::start(io, socket_path(root), daemon.verbs);
  if (!control_server) return fail(control_server.error().message);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&daemon](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("received signal {}, shutting down", sig);
    daemon.request_stop();
  });

  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  unsigned n = std::max(2u, std::min(4u, std::thread::hardware_concurrency()));
  for (unsigned i = 0; i < n; ++i) threads.emplace_back([&io] { io.run(); });

  daemon.plugins->apply(cfg->plugins);
  daemon.team->announce_addresses();
  daemon.links->start();
  if (cfg->discovery.enabled) {
    discovery::Options dopts;
    dopts.udp_port = cfg->discovery.port;
    dopts.interval = std::chrono::milliseconds(cfg->discovery.interval_ms);
    dopts.targets = cfg->discovery.targets;
    dopts.multicast_if = cfg->discovery.multicast_if;
    dopts.listen = daemon.listen;  // beacons leave only from addresses we listen on
    // A sighting is only an address hint for a member; non-members are listed as nearby.
    auto found = discovery::Discovery::start(io, *ident, (*server)->port(), std::move(dopts),
                                             [&daemon](const discovery::Sighting& s) {
                                               if (daemon.engine->roster().is_member(s.key))
                                                 daemon.links->add_hint(s.key, s.address);
                                             });
    if (found) {
      daemon.discovery = std::move(*found);
    } else {
      spdlog::warn("LAN discovery is off: {}", found.error().message);
    }
  }
  spdlog::info("mesh {} started: node {} ({}), listening on {}, root {}", MESH_VERSION,
               cfg->node.name, daemon.key.id(), daemon.listen, root.string());
  daemon.ready = true;
  if (options.on_ready) options.on_ready(daemon.listen);

  {
    std::unique_lock lk(daemon.stop_mu);
    daemon.stop_cv.wait(lk, [&] { return daemon.stop_requested; });
  }

  // Graceful first: refuse new work, stop plugins (they may still answer calls), close the
  // listener, let queued handlers drain; forced after the deadline.
  spdlog::info("stopping");
  (*control_server)->stop();
  daemon.web->stop();  // live updates end: open event streams get their last chunk
  if (daemon.discovery) daemon.discovery->stop();
  daemon.plugins->stop_all();
  daemon.links->stop();
  (*server)->stop();
  daemon.engine->stop();
  asio::post(io, [&signals] { signals.cancel(); });
  work.reset();
  auto drained = std::async(std::launch::async, [&threads] {
    for (auto& t : threads) t.join();
  });
  if (drained.wait_for(kShutdownDeadline) != std::future_status::ready) {
    spdlog::warn("shutdown deadline passed; forcing");
    io.stop();
  }
  drained.wait();
  daemon.plugins.reset();
  daemon.links.reset();
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return 0;
}

}  // namespace mesh::app
