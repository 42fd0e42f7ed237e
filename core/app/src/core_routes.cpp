// The node's web pages: the web layer (core/web) wired to the daemon, and the node page at "/"
// rendered from templates in the layout. Local clients only (Access::local): the UI is the
// user's own. Live updates go out on SSE channels "node" and "node/repos" (docs/web.md).
#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "daemon.hpp"
#include "mesh/web/csrf.hpp"
#include "mesh/web/layout.hpp"
#include "mesh/web/site.hpp"
#include "plugin_views.hpp"

namespace mesh::app {
namespace {
namespace json = boost::json;

constexpr auto kPeersTick = std::chrono::seconds(1);
constexpr auto kReposTick = std::chrono::seconds(2);
// A peer's last_seen moves with every heartbeat; without a state change such updates go out at
// most this often (the browser ages "12s ago" by itself in between).
constexpr auto kLastSeenRefresh = std::chrono::seconds(10);
constexpr std::size_t kMaxRefsShown = 20;
constexpr std::string_view kReposChannel = "node/repos";

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// What mesh.js shows for a timestamp (it keeps it fresh); the same wording as its ago().
std::string ago(std::uint64_t then_ms, std::uint64_t now) {
  const std::uint64_t s = now > then_ms ? (now - then_ms) / 1000 : 0;
  if (s < 1) return "just now";
  if (s < 60) return std::to_string(s) + "s ago";
  if (s < 3600) return std::to_string(s / 60) + "m ago";
  if (s < 48 * 3600) return std::to_string(s / 3600) + "h ago";
  return std::to_string(s / 86400) + "d ago";
}

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return {};
  if (const auto* s = v->if_string()) return std::string(*s);
  return json::serialize(*v);
}

std::uint64_t u64(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64() > 0 ? static_cast<std::uint64_t>(v->as_int64()) : 0;
  if (v->is_uint64()) return v->as_uint64();
  return 0;
}

std::string short_id(std::string_view id) {
  return std::string(id.starts_with("mesh:") ? id.substr(5, 12) : id.substr(0, 12));
}

// ---- peers ----

struct PeersView {
  json::array peers;  // what the template and the "peers" event carry
  std::size_t up = 0;
};

PeersView peers_view(const Daemon& d) {
  PeersView v;
  for (const auto& p : d.team->peers_json()) {
    const auto* o = p.if_object();
    if (!o) continue;
    json::array addresses;
    if (const auto* a = o->if_contains("addresses"); a && a->is_array()) addresses = a->as_array();
    const std::string state = str(*o, "state") == "up" ? "up" : "down";
    if (state == "up") ++v.up;
    v.peers.push_back(json::object{{"name", str(*o, "name")},
                                   {"id", str(*o, "id")},
                                   {"state", state},
                                   {"last_seen_ms", u64(*o, "last_seen_ms")},
                                   {"addresses", std::move(addresses)}});
  }
  return v;
}

// The template's view of one peer: derived texts added.
json::array peers_for_template(const json::array& peers) {
  const std::uint64_t now = now_ms();
  json::array out;
  for (const auto& p : peers) {
    json::object o = p.as_object();
    const std::uint64_t seen = u64(o, "last_seen_ms");
    std::string addrs;
    for (const auto& a : o["addresses"].as_array()) {
      if (!addrs.empty()) addrs += ", ";
      if (a.is_string()) addrs += a.as_string();
    }
    o["seen"] = seen > 0;
    o["last_seen_text"] = seen > 0 ? ago(seen, now) : "never";
    o["addresses_text"] = addrs;
    o["short_id"] = short_id(str(o, "id"));
    out.push_back(std::move(o));
  }
  return out;
}

// ---- repos (from the replication plugin's `repos` verb) ----
// Kept apart on purpose: plugin status sections (status_set html) replace this soon.

std::string listen_port(const Daemon& d) {
  return d.listen.substr(d.listen.rfind(':') + 1);
}

std::string repos_section_html(const Daemon& d, const std::optional<json::value>& repos) {
  json::object ctx{{"available", repos && repos->is_array()}, {"port", listen_port(d)}};
  json::array list;
  if (repos && repos->is_array()) {
    for (const auto& r : repos->as_array()) {
      const auto* o = r.if_object();
      if (!o) continue;
      const std::string name = str(*o, "name");
      json::array refs;
      std::size_t ref_count = 0;
      if (const auto* rv = o->if_contains("refs"); rv && rv->is_object()) {
        for (const auto& [ref, oid] : rv->as_object()) {
          ++ref_count;
          if (refs.size() >= kMaxRefsShown) continue;
          const std::string full = oid.is_string() ? std::string(oid.as_string()) : "";
          refs.push_back(json::object{{"name", ref}, {"oid", full}, {"short", full.substr(0, 12)}});
        }
      }
      json::array divs;
      if (const auto* dv = o->if_contains("divergences"); dv && dv->is_array()) {
        for (const auto& x : dv->as_array()) {
          const auto* xo = x.if_object();
          if (!xo) continue;
          divs.push_back(json::object{{"ref", str(*xo, "ref")},
                                      {"node", str(*xo, "node")},
                                      {"short", str(*xo, "oid").substr(0, 12)},
                                      {"parked_as", str(*xo, "parked_as")},
                                      {"resolve", str(*xo, "resolve")},
                                      {"discard", str(*xo, "discard")}});
        }
      }
      json::value diverged = divs.empty() ? json::value(false) : json::value(divs.size());
      list.push_back(json::object{{"name", name},
                                  {"href", "/repos/" + web::url_segment(name)},
                                  {"ref_count", ref_count},
                                  {"has_refs", !refs.empty()},
                                  {"refs", std::move(refs)},
                                  {"diverged", std::move(diverged)},
                                  {"divergences", std::move(divs)}});
    }
  }
  ctx["count"] = list.size();
  ctx["empty"] = list.empty();
  ctx["repos"] = std::move(list);
  auto html = d.web->render_embedded("node_repos", std::move(ctx));
  if (!html) {
    spdlog::error("web: the repos section: {}", html.error().message);
    return "<div class=\"flash-error\">The repos could not be shown.</div>";
  }
  return std::move(*html);
}

// ---- the node page ----

http::Response node_page(const Daemon& d, const std::optional<json::value>& repos) {
  std::string name;
  {
    std::lock_guard lock(d.mu);
    name = d.config.node.name;
  }
  PeersView peers = peers_view(d);
  json::array plugins;
  for (const auto& p : d.plugins->list()) {
    plugins.push_back(
        json::object{{"id", p.id}, {"version", p.version}, {"state", p.state}, {"error", p.error}});
  }
  json::object ctx{
      {"node", json::object{{"name", name},
                            {"id", d.key.id()},
                            {"listen", d.listen},
                            {"version", d.web->version()}}},
      {"peers_up", peers.up},
      {"peers_total", peers.peers.size()},
      {"peers", peers_for_template(peers.peers)},
      {"repos_html", repos_section_html(d, repos)},
      {"plugin_count", plugins.size()},
      {"plugins", std::move(plugins)},
  };
  auto body = d.web->render_embedded("node", std::move(ctx));
  web::Page page;
  page.title = name;
  page.tab = "Node";
  if (!body) {
    spdlog::error("web: the node page: {}", body.error().message);
    page.status = 500;
    page.body_html = "<div class=\"flash-error\">The node page could not be rendered.</div>";
  } else {
    page.body_html = std::move(*body);
  }
  return d.web->page(page);
}

// ---- live updates on channel "node" ----

// Publishes "peers" when a peer's name, state or addresses changed, when a new page started
// following the channel (so it catches up with what changed since it was rendered), and at
// most every kLastSeenRefresh for last-seen times alone.
class PeersPublisher {
 public:
  explicit PeersPublisher(const Daemon& d) : d_(d) {}

  void tick() {
    auto& sse = d_.web->sse();
    const std::size_t followers = sse.followers("node");
    const bool joined = followers > followers_;
    followers_ = followers;
    if (followers == 0) return;
    PeersView v = peers_view(d_);
    json::array shape;  // everything but last_seen_ms
    for (const auto& p : v.peers) {
      json::object o = p.as_object();
      o.erase("last_seen_ms");
      shape.push_back(std::move(o));
    }
    const std::string key = json::serialize(shape);
    const std::string full = json::serialize(v.peers);
    const auto now = std::chrono::steady_clock::now();
    const bool changed = key != last_key_;
    const bool refresh = full != last_full_ && now - last_sent_ >= kLastSeenRefresh;
    if (!changed && !joined && !refresh) return;
    json::object msg{{"up", v.up}, {"total", v.peers.size()}, {"peers", std::move(v.peers)}};
    if (auto r = sse.publish("node", "peers", json::serialize(msg)); !r) {
      spdlog::warn("web: publishing peers: {}", r.error().message);
      return;
    }
    last_key_ = key;
    last_full_ = full;
    last_sent_ = now;
  }

 private:
  const Daemon& d_;
  std::size_t followers_ = 0;
  std::string last_key_, last_full_;
  std::chrono::steady_clock::time_point last_sent_{};
};

// Re-renders the repos section while some page follows "node/repos" (only the node page does)
// and publishes it there as a "section" event when its HTML changed (or a new page started
// following).
class ReposPublisher : public std::enable_shared_from_this<ReposPublisher> {
 public:
  explicit ReposPublisher(const Daemon& d) : d_(d) {}

  void tick() {
    const std::size_t followers = d_.web->sse().followers(kReposChannel);
    const bool joined = followers > followers_;
    followers_ = followers;
    if (followers == 0 || busy_.exchange(true)) return;
    if (joined) {
      std::lock_guard lock(mu_);
      last_html_.clear();
    }
    std::weak_ptr<ReposPublisher> weak = weak_from_this();
    // Answered on a plugin thread; the daemon outlives it (plugins answer pending calls when
    // they stop, before the daemon goes).
    ask_plugin(d_, "repos", {}, [weak](std::optional<json::value> repos) {
      auto self = weak.lock();
      if (!self) return;
      self->publish(self->d_.web ? repos_section_html(self->d_, repos) : std::string());
      self->busy_ = false;
    });
  }

 private:
  void publish(std::string html) {
    {
      std::lock_guard lock(mu_);
      if (html.empty() || html == last_html_) return;
      last_html_ = html;
    }
    json::object msg{{"id", "repos"}, {"html", std::move(html)}};
    if (auto r = d_.web->sse().publish(kReposChannel, "section", json::serialize(msg)); !r) {
      spdlog::warn("web: publishing the repos section: {}", r.error().message);
    }
  }

  const Daemon& d_;
  std::size_t followers_ = 0;
  std::atomic<bool> busy_{false};
  std::mutex mu_;
  std::string last_html_;
};

}  // namespace

void create_web(Daemon& d, const identity::Identity& self) {
  web::SiteOptions options;
  options.version = MESH_VERSION;
  options.csrf = web::CsrfToken(self).value();
  options.node = [&d] {
    web::NodeView v;
    {
      std::lock_guard lock(d.mu);
      v.name = d.config.node.name;
    }
    v.id = d.key.id();
    if (d.team) {
      for (const auto& p : d.team->peers_json()) {
        ++v.peers_total;
        if (const auto* o = p.if_object(); o && str(*o, "state") == "up") ++v.peers_up;
      }
    }
    return v;
  };
  d.web = std::make_shared<web::Site>(std::move(options));
}

void register_core_routes(Daemon& d) {
  d.web->register_routes(d.router);
  http::RouteOptions opts;
  opts.access = http::Access::local;
  opts.max_body = 0;
  opts.exact = true;  // plugins serve the paths below "/" (e.g. /<repo>.git/...)
  d.router->add("GET", "/", opts, [&d](http::Request&&, http::Responder respond) {
    ask_plugin(d, "repos", {},
               [&d, respond](std::optional<json::value> repos) { respond(node_page(d, repos)); });
  });

  auto peers = std::make_shared<PeersPublisher>(d);
  d.web->every(kPeersTick, [peers] { peers->tick(); });
  auto repos = std::make_shared<ReposPublisher>(d);
  d.web->every(kReposTick, [repos] { repos->tick(); });
}

}  // namespace mesh::app
