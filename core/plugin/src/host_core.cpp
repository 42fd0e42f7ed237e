// Host functions for the core services of ABI 1.3: where the node's mirrors live, and a
// plugin's section of `mesh status` and of the node page.
#include <boost/json.hpp>
#include <cstring>

#include "host_api.hpp"
#include "runtime.hpp"

namespace mesh::plugin {

bool is_core_status_key(std::string_view key) {
  for (std::string_view k : {"node", "peers", "nearby", "gossip", "plugins", "sections"})
    if (key == k) return true;
  return false;
}

namespace host {
namespace {

// A part of mesh_status: empty when the plugin's struct is too old to have it. Null with a
// length is refused.
bool part(const mesh_status* s, std::size_t offset, std::string_view* out) {
  *out = {};
  if (s->struct_size < offset + sizeof(mesh_str)) return true;
  mesh_str v;
  std::memcpy(&v, reinterpret_cast<const char*>(s) + offset, sizeof v);
  if (v.len && !v.ptr) return false;
  *out = as_view(v);
  return true;
}

// Terminal text: lines and tabs, but no other control characters (no escape sequences).
bool valid_text(std::string_view t) {
  for (char ch : t) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return false;
  }
  return valid_utf8(t);
}

}  // namespace

int32_t repos_dir(void* ctx, char* buf, size_t cap, size_t* needed) {
  return guarded(ctx, [&](Runtime* p) {
    if (!p->usable()) return MESH_E_STATE;
    if (p->repos_dir.empty()) return MESH_E_UNSUPPORTED;
    return copy_out(p->repos_dir, buf, cap, needed);
  });
}

int32_t status_set(void* ctx, const mesh_status* status) {
  return guarded(ctx, [&](Runtime* p) {
    StatusSection section;
    section.plugin = p->id;
    if (status) {
      std::string_view json, text, html;
      if (!part(status, offsetof(mesh_status, json), &json) ||
          !part(status, offsetof(mesh_status, text), &text) ||
          !part(status, offsetof(mesh_status, html), &html))
        return MESH_E_INVALID;
      if (json.size() > kMaxStatusJson || text.size() > kMaxStatusText ||
          html.size() > kMaxStatusHtml)
        return MESH_E_LIMIT;
      if (!json.empty()) {
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(json, ec);
        if (ec || !v.is_object()) return MESH_E_INVALID;
        for (const auto& member : v.as_object())
          if (is_core_status_key(member.key())) return MESH_E_INVALID;
        section.json = boost::json::serialize(v);
      }
      if (!valid_text(text) || !valid_utf8(html)) return MESH_E_INVALID;
      section.text.assign(text);
      section.html.assign(html);
    }
    // Under Runtime::mu, so a section set while stopping cannot outlive the stop.
    std::lock_guard lock(p->mu);
    if (p->phase != Phase::active) return MESH_E_STATE;
    if (!p->sections) return MESH_E_UNSUPPORTED;
    std::lock_guard sections_lock(p->sections->mu);
    if (section.json.empty() && section.text.empty() && section.html.empty())
      p->sections->by_plugin.erase(p->id);
    else
      p->sections->by_plugin[p->id] = std::move(section);
    return MESH_OK;
  });
}

}  // namespace host
}  // namespace mesh::plugin
