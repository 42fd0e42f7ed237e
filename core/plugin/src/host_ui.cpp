// Host functions for the web layer of ABI 1.3, each mapped onto web::Site as docs/web.md's
// table says: templates, pages in the node's layout, assets, navigation, markdown and
// server-sent events. A plugin's assets and navigation entries go when it stops.
#include "host_api.hpp"
#include "mesh/web/markdown.hpp"
#include "mesh/web/site.hpp"
#include "runtime.hpp"

namespace mesh::plugin {

namespace {

constexpr std::size_t kMaxTemplate = 256 * 1024;
constexpr std::size_t kMaxTemplateContext = 4u << 20;
constexpr std::size_t kMaxMarkdown = 1u << 20;
constexpr std::size_t kMaxLinkBase = 2048;
constexpr std::size_t kMaxAsset = 4u << 20;
constexpr std::size_t kMaxSseData = 64 * 1024;
constexpr std::size_t kMaxPageTitle = 1024;
constexpr std::size_t kMaxPageBody = 16u << 20;
constexpr std::size_t kMaxPageScripts = 4096;

// A view the plugin handed us: NULL with a length is refused.
bool readable(mesh_str s) {
  return s.len == 0 || s.ptr != nullptr;
}

// [a-z0-9][a-z0-9._-]{0,63}: the name part of /assets/<plugin id>/<name>.
bool valid_asset_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (i > 0 && (c == '.' || c == '_' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

// Writes `text` to the plugin's sink; its exceptions must not cross back into the plugin.
void emit(mesh_write_fn out, void* user, const std::string& text) {
  if (!text.empty()) out(user, text.data(), text.size());
}

// The site, or null while the plugin cannot use it (stopped, or no web layer here).
std::shared_ptr<web::Site> site_of(Runtime* p, int32_t* rc) {
  std::lock_guard lock(p->mu);
  if (!p->usable_locked()) return *rc = MESH_E_STATE, nullptr;
  if (!p->site) return *rc = MESH_E_UNSUPPORTED, nullptr;
  return p->site;
}

// For registrations (assets, navigation): only while active, so nothing outlives the stop.
std::shared_ptr<web::Site> active_site(Runtime* p, int32_t* rc) {
  std::lock_guard lock(p->mu);
  if (p->phase != Phase::active) return *rc = MESH_E_STATE, nullptr;
  if (!p->site) return *rc = MESH_E_UNSUPPORTED, nullptr;
  return p->site;
}

bool still_active(Runtime* p) {
  std::lock_guard lock(p->mu);
  return p->phase == Phase::active;
}

}  // namespace

namespace host {

int32_t ui_render(void* ctx, mesh_str tmpl, mesh_str context_json, mesh_write_fn out,
                  void* out_user, char* err, size_t err_cap) {
  return guarded(ctx, err, err_cap, [&](Runtime* p) {
    if (!out || !readable(tmpl) || !readable(context_json))
      return set_err(err, err_cap, "null template, context or sink"), MESH_E_INVALID;
    if (tmpl.len > kMaxTemplate)
      return set_err(err, err_cap, "template larger than 256 KiB"), MESH_E_LIMIT;
    if (context_json.len > kMaxTemplateContext)
      return set_err(err, err_cap, "context larger than 4 MiB"), MESH_E_LIMIT;
    int32_t rc = MESH_OK;
    auto site = site_of(p, &rc);
    if (!site) return set_err(err, err_cap, "no web layer"), rc;
    std::string_view ctx_text = as_view(context_json);
    auto html = site->render_json(as_view(tmpl), ctx_text.empty() ? "{}" : ctx_text);
    if (!html) return set_err(err, err_cap, html.error().message), code_of(html.error().code);
    emit(out, out_user, *html);
    return MESH_OK;
  });
}

int32_t ui_respond(void* ctx, uint64_t call_id, const mesh_ui_page* page) {
  return guarded(ctx, [&](Runtime* p) {
    if (!page || !MESH_HAS_FIELD(page, mesh_ui_page, scripts)) return MESH_E_INVALID;
    if (!readable(page->title) || !readable(page->repo) || !readable(page->tab) ||
        !readable(page->body_html) || !readable(page->scripts))
      return MESH_E_INVALID;
    if (page->status < 100 || page->status > 599) return MESH_E_INVALID;
    if (page->title.len > kMaxPageTitle || page->repo.len > kMaxPageTitle ||
        page->tab.len > kMaxPageTitle || page->body_html.len > kMaxPageBody ||
        page->scripts.len > kMaxPageScripts)
      return MESH_E_LIMIT;
    // The frame strings are escaped by the layout; they still must be text.
    if (!valid_utf8(as_view(page->title)) || !valid_utf8(as_view(page->repo)) ||
        !valid_utf8(as_view(page->tab)) || !valid_utf8(as_view(page->body_html)))
      return MESH_E_INVALID;
    int32_t rc = MESH_OK;
    auto site = site_of(p, &rc);
    if (!site) return rc;
    web::Page pg;
    pg.status = page->status;
    pg.title.assign(as_view(page->title));
    pg.repo.assign(as_view(page->repo));
    pg.tab.assign(as_view(page->tab));
    pg.body_html.assign(as_view(page->body_html));
    pg.scripts = web::split_scripts(as_view(page->scripts));
    // A bad script URL makes the page a 500 that says why (Site::page logs it).
    return p->answer(call_id, site->page(pg));
  });
}

int32_t ui_asset(void* ctx, mesh_str name, mesh_str content_type, mesh_str data) {
  return guarded(ctx, [&](Runtime* p) {
    if (!readable(name) || !readable(content_type) || !readable(data)) return MESH_E_INVALID;
    if (!valid_asset_name(as_view(name))) return MESH_E_INVALID;
    if (!valid_header_value(as_view(content_type)) || content_type.len > 256) return MESH_E_INVALID;
    if (data.len > kMaxAsset) return MESH_E_LIMIT;
    int32_t rc = MESH_OK;
    auto site = active_site(p, &rc);
    if (!site) return rc;
    std::string path = p->id + "/" + std::string(as_view(name));
    auto st = site->assets().put(path, as_view(content_type), std::string(as_view(data)));
    if (!st) {
      p->log(spdlog::level::warn, "ui_asset " + path + ": " + st.error().message);
      return code_of(st.error().code);
    }
    // Stopped meanwhile: drop_services() may have run before the put.
    if (!still_active(p)) {
      site->assets().remove_owner(p->id);
      return MESH_E_STATE;
    }
    return MESH_OK;
  });
}

int32_t ui_nav(void* ctx, mesh_str scope, mesh_str label, mesh_str href) {
  return guarded(ctx, [&](Runtime* p) {
    if (!readable(scope) || !readable(label) || !readable(href)) return MESH_E_INVALID;
    if (!valid_utf8(as_view(label))) return MESH_E_INVALID;
    int32_t rc = MESH_OK;
    auto site = active_site(p, &rc);
    if (!site) return rc;
    auto st = site->nav().add(as_view(scope), as_view(label), as_view(href), p->id);
    if (!st) return code_of(st.error().code);
    if (!still_active(p)) {
      site->nav().remove_owner(p->id);
      return MESH_E_STATE;
    }
    return MESH_OK;
  });
}

int32_t markdown_render(void* ctx, mesh_str markdown, mesh_str link_base, mesh_str image_base,
                        mesh_write_fn out, void* out_user) {
  return guarded(ctx, [&](Runtime* p) {
    if (!out || !readable(markdown) || !readable(link_base) || !readable(image_base))
      return MESH_E_INVALID;
    if (markdown.len > kMaxMarkdown) return MESH_E_LIMIT;
    if (link_base.len > kMaxLinkBase || image_base.len > kMaxLinkBase) return MESH_E_LIMIT;
    if (!p->usable()) return MESH_E_STATE;
    web::MarkdownOptions opts;
    opts.link_base.assign(as_view(link_base));
    opts.image_base.assign(as_view(image_base));
    auto html = web::markdown_to_html(as_view(markdown), opts);
    if (!html) return code_of(html.error().code);
    emit(out, out_user, *html);
    return MESH_OK;
  });
}

int32_t sse_publish(void* ctx, mesh_str channel, mesh_str event, mesh_str data) {
  return guarded(ctx, [&](Runtime* p) {
    if (!readable(channel) || !readable(event) || !readable(data)) return MESH_E_INVALID;
    if (data.len > kMaxSseData) return MESH_E_LIMIT;
    if (!web::valid_channel(as_view(channel)) || !web::valid_channel(as_view(event)))
      return MESH_E_INVALID;
    int32_t rc = MESH_OK;
    auto site = site_of(p, &rc);
    if (!site) return rc;
    auto sent = site->sse().publish(as_view(channel), as_view(event), as_view(data));
    if (!sent) return code_of(sent.error().code);
    return MESH_OK;
  });
}

}  // namespace host
}  // namespace mesh::plugin
