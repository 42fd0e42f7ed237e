// The daemon's own control verbs. They always answer JSON; the CLI renders tables from it.
#include <spdlog/spdlog.h>
#include <boost/json.hpp>
#include <filesystem>
#include <set>

#include "daemon.hpp"
#include "logging.hpp"
#include "mesh/names.hpp"
#include "mesh/app/app.hpp"

namespace mesh::app {
namespace json = boost::json;

namespace {

control::Reply ok(const json::value& v) {
  return {0, json::serialize(v)};
}

json::array plugins_json(const Daemon& d) {
  json::array out;
  for (const auto& p : d.plugins->list()) {
    json::array stalled;
    for (const auto& s : p.stalled) stalled.emplace_back(s);
    out.push_back(json::object{{"id", p.id},
                               {"version", p.version},
                               {"abi", p.abi},
                               {"enabled", p.enabled},
                               {"state", p.state},
                               {"error", p.error},
                               {"queued", p.queued},
                               {"running", p.running},
                               {"stalled", std::move(stalled)}});
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
  // Members that hit a limit or sent a clock too far ahead (docs/security.md): whom to look at.
  json::array offenders;
  for (const auto& o : d.engine->offenders()) {
    auto member = d.engine->roster().find(o.key);
    auto n = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
    offenders.push_back(json::object{{"id", o.key.id()},
                                     {"name", member ? member->name : std::string()},
                                     {"member", member.has_value()},
                                     {"lamport_refused", n(o.lamport_refused)},
                                     {"highest_lamport", std::to_string(o.highest_lamport)},
                                     {"events_throttled", n(o.events_throttled)},
                                     {"bytes_throttled", n(o.bytes_throttled)},
                                     {"live_throttled", n(o.live_throttled)},
                                     {"sync_throttled", n(o.sync_throttled)},
                                     {"last", o.last},
                                     {"last_ms", n(o.last_ms)}});
  }
  json::object throttled;
  for (const auto& [kind, n] : d.engine->throttled()) {
    throttled[kind] = static_cast<std::int64_t>(n);
  }
  return json::object{
      {"rejected", rejected}, {"throttled", throttled}, {"offenders", offenders}, {"links", links}};
}

// The repo-name grammar, shared with the CLI and every plugin (sdk/include/mesh/names.hpp).
using names::repo_name_error;

// User text in a message: quoted, control characters shown as '?', cut at 100 characters.
std::string quote_name(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 100))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > 100) out += "...";
  return out + "'";
}

// Plugins' status sections (ABI 1.3): each JSON member joins the top level, where it replaces
// a default such as "repos" but never a core key (the host refused those) nor a member an
// earlier plugin set (sections come in plugin id order); the text goes under "sections".
void merge_sections(json::object& out, const std::vector<plugin::StatusSection>& sections) {
  json::object texts;
  std::set<std::string, std::less<>> taken;
  for (const auto& s : sections) {
    if (!s.json.empty()) {
      boost::system::error_code ec;
      auto v = json::parse(s.json, ec);
      if (!ec && v.is_object()) {
        for (auto& [key, value] : v.as_object()) {
          if (plugin::is_core_status_key(key) || !taken.insert(std::string(key)).second) {
            spdlog::debug("status: plugin '{}' may not set \"{}\"", s.plugin, std::string(key));
            continue;
          }
          out[key] = std::move(value);
        }
      }
    }
    texts[s.plugin] = json::object{{"text", s.text}};
  }
  out["sections"] = std::move(texts);
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
        // What the plugins know (replication's "repos", CI's runs...) are their status
        // sections (status_set), never read from a plugin here. "repos" is in CLI.md's
        // contract, so it is [] until replication's section replaces it.
        merge_sections(out, d.plugins->status_sections());
        r.reply(ok(out));
      });

  add("id", "this node's public identity", [&d](control::Call&&, control::Responder r) {
    r.reply(ok(json::object{{"id", d.key.id()}}));
  });

  add("plugins", "the plugins and the state of each",
      [&d](control::Call&&, control::Responder r) { r.reply(ok(plugins_json(d))); });

  // Reading mesh.toml is quick; applying it may wait for plugins to stop, so that part runs on
  // the plugin manager's worker and the control socket's I/O thread answers others meanwhile.
  add("reload", "re-read mesh.toml without a restart", [&d](control::Call&&, control::Responder r) {
    auto cfg = config::load(config_path(d.root));
    if (!cfg) {
      spdlog::warn("reload refused, the running config stays: {}", cfg.error().message);
      r.reply({1, cfg.error().message});
      return;
    }
    auto plugins = cfg->plugins;
    d.plugins->reload(std::move(plugins), [&d, r, cfg = std::move(*cfg)](plugin::ApplyReport rep) {
      if (!rep.error.empty()) {
        spdlog::warn("reload refused, the running config stays: {}", rep.error);
        return r.reply({1, rep.error});
      }
      // Validate-then-apply: a plugin refused its new settings, so nothing changed.
      if (!rep.refused.empty()) {
        std::string msg;
        for (const auto& line : rep.refused) msg += (msg.empty() ? "" : "\n") + line;
        spdlog::warn("reload refused, the running config stays: {}", msg);
        return r.reply({1, msg + "\nnothing was changed; the running configuration stays"});
      }
      json::array restart;
      {
        std::lock_guard lock(d.mu);
        restart = restart_required(d.config, cfg);
        d.config.plugins = cfg.plugins;
        d.config.log.level = cfg.log.level;
        d.config.runner = cfg.runner;
        d.config.gossip = cfg.gossip;
      }
      d.engine->set_limits(gossip_limits(cfg.gossip));
      set_log_level(cfg.log.level);
      d.plugins->set_runner_config(cfg.runner);  // the next job_submit obeys it
      auto list = [](const std::vector<std::string>& ids) {
        json::array out;
        for (const auto& id : ids) out.emplace_back(id);
        return out;
      };
      spdlog::info("reloaded {}", config_path(d.root).string());
      r.reply(ok(json::object{{"reloaded", true},
                              {"restart_required", restart},
                              {"restarted", list(rep.restarted)},
                              {"failed", list(rep.failed)},
                              {"stuck", list(rep.stuck)}}));
    });
  });

  add("sync", "force an anti-entropy round with every linked member now",
      [&d](control::Call&& call, control::Responder r) {
        if (call.args.size() > 1) return r.reply({2, "usage: mesh sync [REPO]"});
        json::value repo = nullptr;
        if (call.args.size() == 1) {
          const std::string& name = call.args[0];
          if (auto why = repo_name_error(name); !why.empty())
            return r.reply({1, "invalid repo name " + quote_name(name) + ": " + why});
          auto mirror = d.root / "repos" / (name + ".git");
          std::error_code ec;
          if (!std::filesystem::is_directory(mirror, ec))
            return r.reply(
                {1, "no repo " + quote_name(name) + " on this node (no " + mirror.string() + ")"});
          repo = name;
        }
        d.engine->sync_now();
        d.links->refresh();
        // The node-local command for whoever compares state with members (replication
        // subscribes to it and compares every repo, or the one named, with every member up).
        auto payload = json::serialize(json::object{{"repo", repo}});
        if (auto ev = d.engine->publish("local.sync", as_bytes(payload)); !ev)
          return r.reply({1, "cannot publish local.sync: " + ev.error().message});
        r.reply(ok(json::object{{"ok", true}}));
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
