// The web layer as one object for the composition root and the plugin host: the embedded core
// assets and templates, the asset store, navigation, the SSE hub, the CSRF token, rendering in
// the layout, and periodic publishers. The plugin ABI's ui_* calls, markdown_render and
// sse_publish map onto it one to one (docs/web.md).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json/object.hpp>

#include "mesh/base/result.hpp"
#include "mesh/http/router.hpp"
#include "mesh/web/assets.hpp"
#include "mesh/web/layout.hpp"
#include "mesh/web/render.hpp"
#include "mesh/web/sse.hpp"

namespace mesh::web {

// The node as the header shows it, asked for at every page.
struct NodeView {
  std::string name;
  std::string id;
  std::size_t peers_up = 0;
  std::size_t peers_total = 0;
};

struct SiteOptions {
  std::string version;
  std::string csrf;                // the node's token (CsrfToken::value())
  std::function<NodeView()> node;  // thread-safe; called for every page
  SseOptions sse;
  AssetLimits assets;
};

// The core's embedded files (layout.mustache, node.mustache, mesh.css, mesh.js, sortable.js,
// favicon.svg, ...); empty if absent.
std::string_view embedded(std::string_view name);

class Site {
 public:
  // Puts the core assets (every embedded file that is not a template) into the store and the
  // core's node navigation entry ("Node" -> "/").
  explicit Site(SiteOptions options);
  ~Site();  // stop(), then joins the ticker and every stream
  Site(const Site&) = delete;
  Site& operator=(const Site&) = delete;

  // /assets (GET, HEAD) and /events on the router; removed again by the destructor.
  void register_routes(std::shared_ptr<http::Router> router);

  AssetStore& assets() { return assets_; }
  Nav& nav() { return nav_; }
  SseHub& sse() { return sse_; }
  const std::string& csrf() const { return options_.csrf; }
  const std::string& version() const { return options_.version; }

  // The "mesh" object every template context gets: {csrf, node, id, version}.
  boost::json::object mesh_context() const;
  // ui_render: `context_json` must be a JSON object; "mesh" is set to mesh_context().
  Result<std::string> render_json(std::string_view tmpl, std::string_view context_json) const;
  // For the core's own templates: an embedded template by name without ".mustache", with
  // the embedded partials/*.mustache as partials ({{> partials/name}}).
  Result<std::string> render_embedded(std::string_view name, boost::json::object context) const;

  // The page in the layout, with the security headers; a layout error answers 500 in plain
  // text (and is logged).
  http::Response page(const Page& page) const;

  // Runs fn every `interval` on the Site's ticker thread (in registration order, one at a time)
  // until stop(). fn must not block for long: it delays the others.
  void every(std::chrono::milliseconds interval, std::function<void()> fn);

  // Ends the SSE streams and the ticker (waiting for a running publisher, unless called from
  // one); publish() becomes a no-op. Idempotent; call it from one thread.
  void stop();

 private:
  void tick_loop();

  SiteOptions options_;
  AssetStore assets_;
  Nav nav_;
  SseHub sse_;
  Partials templates_;  // every embedded *.mustache, by name without the extension
  Partials partials_;   // those under partials/
  std::shared_ptr<http::Router> router_;
  std::vector<http::RouteId> routes_;

  struct Periodic {
    std::chrono::milliseconds interval;
    std::chrono::steady_clock::time_point next;
    std::function<void()> fn;
  };
  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  std::vector<Periodic> periodic_;
  bool stopping_ = false;
  std::thread ticker_;
};

}  // namespace mesh::web
