// The browse plugin's ABI glue (docs/web.md, "Repo pages"): the routes, the navigation entries,
// the stylesheet, and the answers through ui_respond / http_respond. Every request is handed to
// the reader pool (libgit2 runs only there); the host's executor never waits for git.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "mesh/plugin.hpp"
#include "pages.hpp"
#include "pool.hpp"
#include "reader.hpp"
#include "settings.hpp"

namespace mesh::browse {
namespace {
namespace fs = std::filesystem;

#define HOST_HAS(h, fn) ((h) && MESH_HAS_FIELD((h), mesh_host, fn) && (h)->fn)

void collect(void* user, const char* data, size_t len) {
  static_cast<std::string*>(user)->append(data, len);
}

class HostRenderer final : public Renderer {
 public:
  explicit HostRenderer(const mesh_host* h) : h_(h) {}
  bool render(std::string_view tmpl, const std::string& ctx, std::string* out,
              std::string* error) override {
    if (!HOST_HAS(h_, ui_render)) return *error = "the host has no ui_render (ABI 1.3)", false;
    char err[MESH_ERR_CAP] = {0};
    out->clear();
    int32_t rc =
        h_->ui_render(h_->ctx, sdk::view(tmpl), sdk::view(ctx), &collect, out, err, sizeof err);
    if (rc != MESH_OK) {
      *error = "ui_render failed (" + std::to_string(rc) + "): " + err;
      return false;
    }
    return true;
  }
  bool markdown(std::string_view text, std::string_view link_base, std::string_view image_base,
                std::string* out) override {
    if (!HOST_HAS(h_, markdown_render)) return false;
    out->clear();
    return h_->markdown_render(h_->ctx, sdk::view(text), sdk::view(link_base),
                               sdk::view(image_base), &collect, out) == MESH_OK;
  }

 private:
  const mesh_host* h_;
};

// "host:port" as a browser sends it, if it is plain enough to print into a command.
std::string base_url(const sdk::HttpRequest& r) {
  std::string_view host = r.header("Host");
  if (host.empty() || host.size() > 255) return "";
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return "";
  }
  return std::string(r.tls() ? "https://" : "http://") + std::string(host);
}

class Browse final : public sdk::Plugin {
 public:
  static void check_config(const std::string& json) { Settings::parse(json); }

  void start() override {
    Settings settings;
    try {
      settings = Settings::parse(host().config_json());
    } catch (const std::invalid_argument& e) {
      throw sdk::Error(MESH_E_INVALID, std::string("[plugins.browse] ") + e.what());
    }
    const mesh_host* h = host().raw();
    if (!HOST_HAS(h, ui_respond) || !HOST_HAS(h, repos_dir))
      throw sdk::Error(MESH_E_UNSUPPORTED, "browse needs a daemon with the web layer (ABI 1.3)");
    libgit2_ = std::make_unique<LibGit2>();
    renderer_ = std::make_unique<HostRenderer>(h);
    pages_ = std::make_unique<Pages>(fs::path(host().repos_dir()), settings, *renderer_, [] {
      return static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
    });
    pool_ = std::make_unique<Pool>(settings.threads, settings.queue);

    using K = PageRequest::Kind;
    add("/repos", K::index);  // a prefix: /repos itself, and the 404 page for unknown paths
    add("/repos/{repo}", K::overview);
    add("/repos/{repo}/tree/{ref}", K::tree);
    add("/repos/{repo}/tree/{ref}/{path...}", K::tree);
    add("/repos/{repo}/blob/{ref}/{path...}", K::blob);
    add("/repos/{repo}/raw/{ref}/{path...}", K::raw);
    add("/repos/{repo}/commits/{ref}", K::commits);
    add("/repos/{repo}/commit/{sha}", K::commit);

    if (std::string_view css = embedded("browse.css"); !css.empty()) {
      if (h->ui_asset(h->ctx, sdk::view("browse.css"), sdk::view("text/css; charset=utf-8"),
                      sdk::view(css)) != MESH_OK)
        Plugin::log(sdk::Level::warn, "the host refused the stylesheet browse.css");
    }
    if (HOST_HAS(h, ui_nav)) {
      if (h->ui_nav(h->ctx, sdk::view("node"), sdk::view("Repos"), sdk::view("/repos")) != MESH_OK)
        Plugin::log(sdk::Level::warn, "the host refused the Repos entry");
      if (h->ui_nav(h->ctx, sdk::view("repo"), sdk::view("Code"), sdk::view("/repos/{repo}")) !=
          MESH_OK)
        Plugin::log(sdk::Level::warn, "the host refused the Code tab");
    }
  }

  void stop() override {
    // Queued requests still run and answer (the host has aborted their calls: harmless); the
    // threads are joined before libgit2 is shut down and the plugin unloaded.
    if (pool_) pool_->stop();
    pool_.reset();
    pages_.reset();
    libgit2_.reset();
  }

 private:
  void add(const char* path, PageRequest::Kind kind) {
    route(
        "GET", path, [this, kind](const sdk::HttpRequest& r) { on_http(r, kind); }, 0,
        MESH_ROUTE_LOCAL);
  }

  void on_http(const sdk::HttpRequest& r, PageRequest::Kind kind) {
    PageRequest req;
    req.kind = kind;
    req.repo = std::string(r.param("repo"));
    req.ref = std::string(r.param("ref"));
    req.path = std::string(r.param("path"));
    req.sha = std::string(r.param("sha"));
    req.query = std::string(r.query());
    req.base_url = base_url(r);
    if (kind == PageRequest::Kind::index) {
      std::string_view path = r.path();
      if (path != "/repos" && path != "/repos/") {
        // A pattern route matches no trailing slash: /repos/app/ is /repos/app.
        std::string_view trimmed = path;
        while (trimmed.size() > 1 && trimmed.ends_with('/')) trimmed.remove_suffix(1);
        if (trimmed != path && trimmed.size() > 7) {
          return answer(r.call_id(), redirect(std::string(trimmed)));
        }
        req.kind = PageRequest::Kind::unknown;
        // /repos/<name>/...: the 404 keeps the repo's tabs when the repo exists.
        std::string_view rest = path.substr(std::min<std::size_t>(path.size(), 7));
        req.repo = std::string(rest.substr(0, rest.find('/')));
      }
    }
    const std::uint64_t call = r.call_id();
    if (!pool_->submit([this, call, req] { answer(call, pages_->handle(req)); })) {
      PageResponse busy;
      busy.status = 503;
      busy.title = "Busy";
      busy.body_html =
          "<div class=\"flash-warn\">This node is reading many repo pages at once; try again in "
          "a moment.</div>";
      answer(call, busy);
    }
  }

  void answer(std::uint64_t call, const PageResponse& out) const {
    const mesh_host* h = host().raw();
    if (out.page) {
      mesh_ui_page p{};
      p.struct_size = sizeof p;
      p.status = out.status;
      p.title = sdk::view(out.title);
      p.repo = sdk::view(out.repo);
      p.tab = sdk::view(out.tab);
      p.body_html = sdk::view(out.body_html);
      if (h->ui_respond(h->ctx, call, &p) == MESH_OK) return;
    }
    sdk::HttpResponse res;
    res.status = out.page ? 500 : out.status;
    res.headers =
        out.page ? sdk::Headers{{"Content-Type", "text/plain; charset=utf-8"}} : out.headers;
    res.body = out.page ? "the host could not lay out this page\n" : out.body;
    host().http_respond(call, res);
  }

  std::unique_ptr<LibGit2> libgit2_;
  std::unique_ptr<HostRenderer> renderer_;
  std::unique_ptr<Pages> pages_;
  std::unique_ptr<Pool> pool_;
};

}  // namespace
}  // namespace mesh::browse

MESH_PLUGIN(mesh::browse::Browse, "browse", MESH_VERSION);
