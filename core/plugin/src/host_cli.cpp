// Host functions for CLI verbs: registration (served through the control socket), answers and
// streamed partial output.
#include "host_api.hpp"
#include "runtime.hpp"

namespace mesh::plugin::host {

int32_t cli_verb(void* ctx, mesh_str verb, mesh_str summary, mesh_cli_handler handler, void* user,
                 char* err, size_t err_cap) {
  return guarded(ctx, err, err_cap, [&](Runtime* p) {
    std::string v(as_view(verb));
    if (!handler) return set_err(err, err_cap, "no handler"), MESH_E_INVALID;
    if (!valid_verb(v))
      return set_err(err, err_cap, "invalid verb (lower-case letters, digits, '-'; max 32)"),
             MESH_E_INVALID;
    if (summary.len > 200) return set_err(err, err_cap, "summary is too long"), MESH_E_LIMIT;
    std::lock_guard lock(p->mu);
    if (p->phase != Phase::active) return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
    if (p->verbs.size() >= kMaxVerbs) return set_err(err, err_cap, "too many verbs"), MESH_E_LIMIT;
    std::weak_ptr<Runtime> weak = p->weak_from_this();
    auto h = [weak, handler, user](control::Call&& call, control::Responder resp) {
      if (auto rt = weak.lock())
        rt->dispatch_cli(std::move(call), std::move(resp), handler, user);
      else if (resp.reply)
        resp.reply({1, "plugin is stopped"});
    };
    control::VerbInfo info{v, sanitize(as_view(summary), 200), p->id};
    if (!p->registry || !p->registry->add(std::move(info), std::move(h)))
      return set_err(err, err_cap, "verb '" + v + "' is already registered"), MESH_E_EXISTS;
    p->verbs.push_back(v);
    return MESH_OK;
  });
}

int32_t cli_respond(void* ctx, uint64_t call_id, int32_t exit_code, mesh_str output) {
  return guarded(ctx, [&](Runtime* p) {
    if (exit_code < 0 || exit_code > 255) return MESH_E_INVALID;
    if (output.len > control::kMaxOutputBytes) return MESH_E_LIMIT;
    if (output.len && !output.ptr) return MESH_E_INVALID;
    std::shared_ptr<CliCall> c;
    int32_t rc = p->with_entry(p->cli_calls, call_id, [&](auto it) {
      c = std::move(it->second);
      p->cli_calls.erase(it);
      p->idle.notify_all();
    });
    if (rc != MESH_OK) return rc;
    std::lock_guard call_lock(c->mu);
    c->done = true;
    if (c->responder.reply) c->responder.reply({exit_code, std::string(as_view(output))});
    return MESH_OK;
  });
}

int32_t cli_chunk(void* ctx, uint64_t call_id, mesh_str text) {
  return guarded(ctx, [&](Runtime* p) {
    if (text.len > control::kMaxLineBytes / 2) return MESH_E_LIMIT;
    if (text.len && !text.ptr) return MESH_E_INVALID;
    std::shared_ptr<CliCall> c;
    int32_t rc = p->with_entry(p->cli_calls, call_id, [&](auto it) { c = it->second; });
    if (rc != MESH_OK) return rc;
    std::lock_guard call_lock(c->mu);
    if (c->done) return MESH_E_NOT_FOUND;
    if (c->responder.connected && !c->responder.connected()) return MESH_E_NOT_FOUND;
    if (c->responder.chunk) c->responder.chunk(std::string(as_view(text)));
    return MESH_OK;
  });
}

}  // namespace mesh::plugin::host
