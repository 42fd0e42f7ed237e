// The daemon's own control verbs. They always answer JSON; the CLI renders tables from it.
#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "daemon.hpp"
#include "logging.hpp"
#include "mesh/app/app.hpp"
#include "plugin_views.hpp"

namespace mesh::app {
namespace json = boost::json;

namespace {

control::Reply ok(const json::value& v) {
  return {0, json::serialize(v)};
}

json::array plugins_json(const Daemon& d) {
  json::array out;
  for (const auto& p : d.plugins->list()) {
    out.push_back(json::object{{"id", p.id},
                               {"version", p.version},
                               {"abi", p.abi},
                               {"enabled", p.enabled},
                               {"state", p.state},
                               {"error", p.error}});
  }
  return out;
}

// Nodes seen by LAN discovery that are not members: whom to invite.
json::array nearby_json(const Daemon& d) {
  json::array out;
  if (!d.discovery) return out;
  for (const auto& s : d.discovery->nearby()) {
    if (d.engine->roster().is_member(s.key)) continue;
    out.push_back(json::object{{"id", s.key.id()},
                               {"address", s.address},
                               {"seen_ms", static_cast<std::int64_t>(s.seen_ms)}});
  }
  return out;
}

// Rejected gossip input per reason, and the live links: what an operator checks first.
json::object gossip_json(const Daemon& d) {
  json::object rejected;
  for (const auto& [reason, n] : d.engine->rejected()) {
    rejected[reason] = static_cast<std::int64_t>(n);
  }
  json::array links;
  for (const auto& l : d.links->links()) {
    links.push_back(
        json::object{{"id", l.peer.id()}, {"remote", l.remote}, {"outbound", l.outbound}});
  }
  return json::object{{"rejected", rejected}, {"links", links}};
}

// Settings that only take effect on a restart, by name, when they differ.
json::array restart_required(const config::Config& a, const config::Config& b) {
  json::array out;
  const auto& x = a.http;
  const auto& y = b.http;
  if (x.listen != y.listen) out.push_back("http.listen");
  if (x.trust_loopback != y.trust_loopback) out.push_back("http.trust_loopback");
  if (x.max_header_bytes != y.max_header_bytes || x.max_body_bytes != y.max_body_bytes ||
      x.header_timeout_ms != y.header_timeout_ms || x.body_timeout_ms != y.body_timeout_ms ||
      x.idle_timeout_ms != y.idle_timeout_ms || x.max_connections != y.max_connections) {
    out.push_back("http limits");
  }
  if (a.node.name != b.node.name) out.push_back("node.name");
  if (a.log.max_file_bytes != b.log.max_file_bytes || a.log.max_files != b.log.max_files) {
    out.push_back("log rotation");
  }
  return out;
}

}  // namespace

void register_core_verbs(Daemon& d) {
  auto add = [&d](std::string verb, std::string summary, control::VerbHandler h) {
    d.verbs->add({std::move(verb), std::move(summary), "core"}, std::move(h));
  };

  add("status", "node, peers, repos and plugins at a glance",
      [&d](control::Call&&, control::Responder r) {
        if (!d.ready) {
          r.reply({1, "the mesh daemon is still starting"});
          return;
        }
        std::string name;
        {
          std::lock_guard lock(d.mu);
          name = d.config.node.name;
        }
        json::object node{{"name", name},
                          {"id", d.key.id()},
                          {"listen", d.listen},
                          {"version", MESH_VERSION},
                          {"root", d.root.string()},
                          {"pid", static_cast<std::int64_t>(::getpid())}};
        json::object out{{"node", node},
                         {"peers", d.team->peers_json()},
                         {"nearby", nearby_json(d)},
                         {"gossip", gossip_json(d)},
                         {"repos", json::array{}},
                         {"plugins", plugins_json(d)}};
        // The repos come from the replication plugin's own view, when it runs.
        ask_plugin(d, "repos", {}, [out = std::move(out), r](std::optional<json::value> v) mutable {
          if (v && v->is_array()) out["repos"] = std::move(*v);
          r.reply(ok(out));
        });
      });

  add("id", "this node's public identity", [&d](control::Call&&, control::Responder r) {
    r.reply(ok(json::object{{"id", d.key.id()}}));
  });

  add("plugins", "the plugins and the state of each",
      [&d](control::Call&&, control::Responder r) { r.reply(ok(plugins_json(d))); });

  add("reload", "re-read mesh.toml without a restart", [&d](control::Call&&, control::Responder r) {
    auto cfg = config::load(config_path(d.root));
    if (!cfg) {
      spdlog::warn("reload refused, the running config stays: {}", cfg.error().message);
      r.reply({1, cfg.error().message});
      return;
    }
    json::array restart;
    {
      std::lock_guard lock(d.mu);
      restart = restart_required(d.config, *cfg);
      d.config.plugins = cfg->plugins;
      d.config.log.level = cfg->log.level;
    }
    set_log_level(cfg->log.level);
    d.plugins->apply(cfg->plugins);
    spdlog::info("reloaded {}", config_path(d.root).string());
    r.reply(ok(json::object{{"reloaded", true}, {"restart_required", restart}}));
  });

  add("sync", "force an anti-entropy round with every linked member now",
      [&d](control::Call&& call, control::Responder r) {
        if (call.args.size() > 1) return r.reply({2, "usage: mesh sync [REPO]"});
        d.engine->sync_now();
        d.links->refresh();
        // Repos compare through the replication plugin, when it runs.
        ask_plugin(d, "repos-sync", call.args, [r](std::optional<json::value> v) {
          json::object out{{"ok", true}};
          if (v && v->is_object()) {
            if (auto* q = v->as_object().if_contains("queued")) out["repos_queued"] = *q;
          }
          r.reply(ok(out));
        });
      });

  add("stop", "stop the daemon gracefully", [&d](control::Call&&, control::Responder r) {
    r.reply(ok(json::object{{"stopped", true}, {"pid", static_cast<std::int64_t>(::getpid())}}));
    d.request_stop();
  });

  add("verbs", "the commands the daemon serves (used by mesh help)",
      [&d](control::Call&&, control::Responder r) {
        json::array out;
        for (const auto& v : d.verbs->list()) {
          out.push_back(json::object{{"verb", v.verb}, {"summary", v.summary}, {"owner", v.owner}});
        }
        r.reply(ok(out));
      });
}

}  // namespace mesh::app
