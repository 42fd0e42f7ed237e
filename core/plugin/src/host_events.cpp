// Host functions for events (ABI 1.1): publish, subscribe through namespaced cursors, and the
// members' JSON views.
#include "host_api.hpp"
#include "runtime.hpp"

namespace mesh::plugin {

std::string bus_subscription_name(std::string_view plugin_id, std::string_view name) {
  std::string full = "plugin." + std::string(plugin_id) + "." + std::string(name);
  if (full.size() <= kMaxTopic) return full;
  // FNV-1a 64 is stable across builds and platforms (std::hash is not): the cursor must keep
  // its name across upgrades. The '/' separates id and name unambiguously.
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(plugin_id);
  mix("/");
  mix(name);
  static const char hex[] = "0123456789abcdef";
  std::string out = "plugin.";
  for (int shift = 60; shift >= 0; shift -= 4) out += hex[(h >> shift) & 0xf];
  return out;
}

namespace host {
namespace {

int32_t bus_json(void* ctx, char* buf, size_t cap, size_t* needed, bool peers) {
  return guarded(ctx, [&](Runtime* p) {
    if (!p->usable()) return MESH_E_STATE;
    if (!p->bus) return MESH_E_UNSUPPORTED;
    return copy_out(peers ? p->bus->peers_json() : p->bus->self_json(), buf, cap, needed);
  });
}

}  // namespace

int32_t publish(void* ctx, mesh_str topic, mesh_str payload, uint64_t* seq_out, char* err,
                size_t err_cap) {
  return guarded(ctx, err, err_cap, [&](Runtime* p) {
    if (seq_out) *seq_out = 0;
    auto t = as_view(topic);
    if (!valid_topic(t))
      return set_err(err, err_cap, "invalid topic (expected [a-z][a-z0-9._-]{0,63})"),
             MESH_E_INVALID;
    if (reserved_topic(t))
      return set_err(err, err_cap, "topic '" + std::string(t) + "' is reserved to the daemon"),
             MESH_E_INVALID;
    if (payload.len > kMaxPayload)
      return set_err(err, err_cap, "payload is larger than 64 KiB"), MESH_E_LIMIT;
    if (payload.len && !payload.ptr) return set_err(err, err_cap, "null payload"), MESH_E_INVALID;
    if (!p->usable()) return set_err(err, err_cap, "plugin is stopped"), MESH_E_STATE;
    if (!p->bus)
      return set_err(err, err_cap, "this daemon runs without an event bus"), MESH_E_UNSUPPORTED;
    auto r = p->bus->publish(t, as_view(payload));
    if (!r) return set_err(err, err_cap, r.error().message), code_of(r.error().code);
    if (seq_out) *seq_out = *r;
    return MESH_OK;
  });
}

int32_t subscribe(void* ctx, mesh_str name, mesh_str pattern, mesh_event_handler handler,
                  void* user, char* err, size_t err_cap) {
  return guarded(ctx, err, err_cap, [&](Runtime* p) {
    std::string n(as_view(name)), pat(as_view(pattern));
    if (!handler) return set_err(err, err_cap, "no handler"), MESH_E_INVALID;
    if (!valid_subscription_name(n))
      return set_err(err, err_cap,
                     "invalid subscription name (expected [a-z0-9][a-z0-9._-]{0,47})"),
             MESH_E_INVALID;
    if (!valid_pattern(pat))
      return set_err(err, err_cap,
                     "invalid topic pattern (a topic, which also matches its subtopics, or *)"),
             MESH_E_INVALID;
    if (!p->bus)
      return set_err(err, err_cap, "this daemon runs without an event bus"), MESH_E_UNSUPPORTED;
    auto sub = std::make_shared<Subscription>();
    sub->name = n;
    sub->bus_name = bus_subscription_name(p->id, n);
    sub->fn = handler;
    sub->user = user;
    {
      std::lock_guard lock(p->mu);
      if (p->phase != Phase::active)
        return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
      if (p->subs.count(n))
        return set_err(err, err_cap, "subscription '" + n + "' exists"), MESH_E_EXISTS;
      if (p->subs.size() >= kMaxSubscriptions)
        return set_err(err, err_cap, "too many subscriptions (at most 64)"), MESH_E_LIMIT;
      p->subs.emplace(n, sub);  // reserved before the bus knows it: deliveries may come at once
    }
    std::weak_ptr<Runtime> weak = p->weak_from_this();
    auto st = p->bus->subscribe(sub->bus_name, pat, [weak, sub](const BusEvent& ev) {
      auto rt = weak.lock();
      return rt && rt->deliver_event(sub, ev);
    });
    bool gone = false;
    {
      std::lock_guard lock(p->mu);
      if (!st) {
        auto it = p->subs.find(n);
        if (it != p->subs.end() && it->second == sub) p->subs.erase(it);
        sub->removed = true;
        set_err(err, err_cap, st.error().message);
        return code_of(st.error().code);
      }
      gone = sub->removed;
    }
    // Stopped (or unsubscribed) while the bus was subscribing: undo, the quiesce missed it.
    if (gone) {
      p->bus->unsubscribe(sub->bus_name);
      return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
    }
    return MESH_OK;
  });
}

int32_t unsubscribe(void* ctx, mesh_str name) {
  return guarded(ctx, [&](Runtime* p) {
    std::shared_ptr<Subscription> sub;
    int32_t rc = p->with_entry(p->subs, as_view(name), [&](auto it) {
      sub = std::move(it->second);
      p->subs.erase(it);
      sub->removed = true;
      if (sub->waiting) sub->waiting->cv.notify_all();  // the bus's thread stops waiting
    });
    if (rc != MESH_OK) return rc;
    if (p->bus) p->bus->unsubscribe(sub->bus_name);
    return MESH_OK;
  });
}

int32_t peers_json(void* ctx, char* buf, size_t cap, size_t* needed) {
  return bus_json(ctx, buf, cap, needed, true);
}

int32_t self_json(void* ctx, char* buf, size_t cap, size_t* needed) {
  return bus_json(ctx, buf, cap, needed, false);
}

}  // namespace host
}  // namespace mesh::plugin
