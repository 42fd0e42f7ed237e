// xss-repos: a test plugin that sets the node page's repos section from repo, ref and
// divergence data full of script payloads, rendered exactly as the replication plugin renders
// its own (its repos_section_context and its template, through the daemon's ui_render), so the
// browser test can check that the page shows every one of them as inert text. Built with the
// public SDK like any plugin.
#include <string>

#include "mesh/plugin.hpp"
#include "repos_view.hpp"
#include "xss_assets.hpp"

namespace {

// Every payload sets window.__xss or opens a dialog if it ever runs.
constexpr const char* kRepos = R"json([
  {"name": "<script>window.__xss='repo';alert('repo')</script>",
   "refs": {
     "refs/heads/<img src=x onerror=\"window.__xss='ref';alert('ref')\">": "\"><svg onload=alert('oid')>",
     "refs/tags/javascript:alert('tag')": "0123456789abcdef0123456789abcdef01234567"
   },
   "divergences": [
     {"ref": "refs/heads/<b onmouseover=alert('div-ref')>x</b>",
      "node": "<iframe src=\"javascript:alert('div-node')\"></iframe>",
      "node_id": "mesh:x",
      "oid": "'><script>alert('div-oid')</script>",
      "parked_as": "refs/mesh/diverged/\"><img src=x onerror=\"window.__xss='parked'\">",
      "resolve": "javascript:alert('resolve')//' onclick='alert(\"resolve2\")",
      "discard": "</code><script>window.__xss='discard'</script>"}
   ]},
  {"name": "javascript:alert('name')", "refs": {}, "divergences": []}
])json";

class XssRepos : public mesh::sdk::Plugin {
 public:
  void start() override {
    const mesh_host* h = host().raw();
    const auto* tmpl = xss_assets::find("repos_section.mustache");
    if (!tmpl || !MESH_HAS_FIELD(h, mesh_host, ui_render) || !h->ui_render)
      throw mesh::sdk::Error(MESH_E_UNSUPPORTED, "no template or no ui_render");
    const std::string ctx = mesh::repl::repos_section_context(kRepos, "PORT");
    std::string html;
    char err[MESH_ERR_CAP] = {0};
    int32_t rc = h->ui_render(
        h->ctx, mesh::sdk::view(tmpl->data()), mesh::sdk::view(ctx),
        [](void* user, const char* data, size_t len) {
          static_cast<std::string*>(user)->append(data, len);
        },
        &html, err, sizeof err);
    if (rc != MESH_OK) throw mesh::sdk::Error(rc, err);
    host().status_set(std::string("{\"repos\":") + kRepos + "}", "", html);
  }
};

}  // namespace

MESH_PLUGIN(XssRepos, "xss-repos", "1.0.0");
