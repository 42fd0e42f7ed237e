#include "mesh/web/site.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "mesh_web_files.hpp"

namespace mesh::web {
namespace json = boost::json;

namespace {
constexpr std::string_view kTemplateExt = ".mustache";
}

std::string_view embedded(std::string_view name) {
  const auto* f = files::find(name);
  return f ? f->data() : std::string_view();
}

Site::Site(SiteOptions options)
    : options_(std::move(options)), assets_(options_.assets), sse_(options_.sse) {
  for (const auto* f = files::begin(); f != files::end(); ++f) {
    const std::string_view key = f->key();
    if (key.ends_with(kTemplateExt)) {
      std::string name(key.substr(0, key.size() - kTemplateExt.size()));
      // Only partials/* can be included ({{> partials/x}}): such names never clash with data
      // keys (render() drops keys named like a partial).
      if (name.starts_with("partials/")) partials_.emplace(name, std::string(f->data()));
      templates_.emplace(std::move(name), std::string(f->data()));
      continue;
    }
    if (auto st = assets_.put(key, "", std::string(f->data())); !st) {
      spdlog::error("web: embedded asset {}: {}", key, st.error().message);
    }
  }
  (void)nav_.add(NavScope::node, "Node", "/", "core");
  ticker_ = std::thread([this] { tick_loop(); });
}

Site::~Site() {
  stop();
  if (router_) {
    for (auto id : routes_) router_->remove(id);
  }
}

void Site::register_routes(std::shared_ptr<http::Router> router) {
  router_ = std::move(router);
  for (auto id : assets_.register_routes(*router_)) routes_.push_back(id);
  if (auto id = sse_.register_route(*router_)) {
    routes_.push_back(id);
  } else {
    spdlog::error("web: GET /events is already taken; live updates are off");
  }
}

json::object Site::mesh_context() const {
  NodeView n = options_.node ? options_.node() : NodeView{};
  return json::object{
      {"csrf", options_.csrf}, {"node", n.name}, {"id", n.id}, {"version", options_.version}};
}

Result<std::string> Site::render_json(std::string_view tmpl, std::string_view context_json) const {
  auto ctx = parse_context(context_json);
  if (!ctx) return ctx.error();
  (*ctx)["mesh"] = mesh_context();
  return render(tmpl, *ctx);
}

Result<std::string> Site::render_embedded(std::string_view name, json::object context) const {
  auto it = templates_.find(name);
  if (it == templates_.end()) {
    return make_error(Errc::not_found, "no embedded template " + std::string(name));
  }
  context["mesh"] = mesh_context();
  return render(it->second, context, &partials_);
}

http::Response Site::page(const Page& page) const {
  NodeView n = options_.node ? options_.node() : NodeView{};
  Frame frame{.node_name = n.name,
              .node_id = n.id,
              .version = options_.version,
              .csrf = options_.csrf,
              .peers_up = n.peers_up,
              .peers_total = n.peers_total,
              .node_nav = nav_.entries(NavScope::node),
              .repo_tabs = nav_.entries(NavScope::repo)};
  auto html = render_layout(page, frame);
  http::Response res;
  res.headers = security_headers(Content::page);
  if (!html) {
    spdlog::error("web: cannot render the page '{}': {}", page.title, html.error().message);
    res.status = 500;
    res.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    res.body = "the page could not be rendered: " + html.error().message + "\n";
    return res;
  }
  res.status = page.status;
  res.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
  res.body = std::move(*html);
  return res;
}

void Site::every(std::chrono::milliseconds interval, std::function<void()> fn) {
  std::lock_guard lock(tick_mu_);
  periodic_.push_back(
      Periodic{interval, std::chrono::steady_clock::now() + interval, std::move(fn)});
  tick_cv_.notify_all();
}

void Site::tick_loop() {
  std::unique_lock lock(tick_mu_);
  while (!stopping_) {
    auto next = std::chrono::steady_clock::time_point::max();
    for (const auto& p : periodic_) next = std::min(next, p.next);
    if (next == std::chrono::steady_clock::time_point::max()) {
      tick_cv_.wait(lock);
      continue;
    }
    if (tick_cv_.wait_until(lock, next, [&] { return stopping_; })) break;
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < periodic_.size() && !stopping_; ++i) {
      if (periodic_[i].next > now) continue;
      periodic_[i].next = now + periodic_[i].interval;
      auto fn = periodic_[i].fn;  // a copy: every() may grow the vector meanwhile
      lock.unlock();
      try {
        fn();
      } catch (const std::exception& e) {
        spdlog::error("web: a periodic publisher failed: {}", e.what());
      }
      lock.lock();
    }
  }
}

void Site::stop() {
  {
    std::lock_guard lock(tick_mu_);
    stopping_ = true;
    tick_cv_.notify_all();
  }
  // No periodic publisher runs once stop() returns (they may reach into the daemon).
  if (ticker_.joinable() && ticker_.get_id() != std::this_thread::get_id()) ticker_.join();
  sse_.stop();
}

}  // namespace mesh::web
