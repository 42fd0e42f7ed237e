// The node's web pages: the web layer (core/web) wired to the daemon, and the node page at "/"
// rendered from templates in the layout. Local clients only (Access::local): the UI is the
// user's own. The plugins' parts of the page are their status sections (status_set html).
// Live updates go out on SSE channel "node" (docs/web.md).
#include <chrono>
#include <map>
#include <string>

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "daemon.hpp"
#include "mesh/web/csrf.hpp"
#include "mesh/web/layout.hpp"
#include "mesh/web/site.hpp"

namespace mesh::app {
namespace {
namespace json = boost::json;

constexpr auto kPeersTick = std::chrono::seconds(1);
constexpr auto kSectionsTick = std::chrono::seconds(1);
// A peer's last_seen moves with every heartbeat; without a state change such updates go out at
// most this often (the browser ages "12s ago" by itself in between).
constexpr auto kLastSeenRefresh = std::chrono::seconds(10);

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

// ---- the plugins' sections ----

// The sections with HTML, in the order the plugins are listed (mesh.toml's enabled order).
json::array sections_for_page(const Daemon& d) {
  std::map<std::string, std::string> html;
  for (auto& s : d.plugins->status_sections()) {
    if (!s.html.empty()) html[s.plugin] = std::move(s.html);
  }
  json::array out;
  for (const auto& p : d.plugins->list()) {
    auto it = html.find(p.id);
    if (it == html.end()) continue;
    out.push_back(json::object{{"section_id", p.id}, {"html", std::move(it->second)}});
    html.erase(it);
  }
  for (auto& [id, h] : html) out.push_back(json::object{{"section_id", id}, {"html", std::move(h)}});
  return out;
}

// ---- the node page ----

http::Response node_page(const Daemon& d) {
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
      {"sections", sections_for_page(d)},
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

// Publishes a plugin's section on "node" as a "section" event when its HTML changed (or a new
// page started following, so that it catches up with what changed since it was rendered).
class SectionsPublisher {
 public:
  explicit SectionsPublisher(const Daemon& d) : d_(d) {}

  void tick() {
    auto& sse = d_.web->sse();
    const std::size_t followers = sse.followers("node");
    const bool joined = followers > followers_;
    followers_ = followers;
    if (followers == 0) return;
    if (joined) last_.clear();
    for (auto& s : d_.plugins->status_sections()) {
      auto& last = last_[s.plugin];
      if (s.html == last) continue;
      json::object msg{{"id", s.plugin}, {"html", s.html}};
      if (auto r = sse.publish("node", "section", json::serialize(msg)); !r) {
        spdlog::warn("web: publishing the {} section: {}", s.plugin, r.error().message);
        continue;
      }
      last = std::move(s.html);
    }
  }

 private:
  const Daemon& d_;
  std::size_t followers_ = 0;
  std::map<std::string, std::string> last_;  // by plugin: the HTML the pages have
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
  d.router->add("GET", "/", opts,
                [&d](http::Request&&, http::Responder respond) { respond(node_page(d)); });

  auto peers = std::make_shared<PeersPublisher>(d);
  d.web->every(kPeersTick, [peers] { peers->tick(); });
  auto sections = std::make_shared<SectionsPublisher>(d);
  d.web->every(kSectionsTick, [sections] { sections->tick(); });
}

}  // namespace mesh::app
