// Host functions that serve the plugin itself: logging, its settings and data directory, its
// timers and its heartbeat value.
#include <boost/json.hpp>

#include "host_api.hpp"
#include "runtime.hpp"

namespace mesh::plugin::host {

void log(void* ctx, uint32_t level, mesh_str message) {
  (void)guarded(ctx, [&](Runtime* p) {
    if (!p->usable()) return MESH_E_STATE;
    static constexpr spdlog::level::level_enum kLevels[] = {
        spdlog::level::trace, spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
        spdlog::level::err};
    auto lvl = level <= MESH_LOG_ERROR ? kLevels[level] : spdlog::level::err;
    p->log(lvl, sanitize(as_view(message), kMaxLogBytes));
    return MESH_OK;
  });
}

int32_t config_json(void* ctx, char* buf, size_t cap, size_t* needed) {
  return guarded(ctx, [&](Runtime* p) {
    std::string value;
    {
      std::lock_guard lock(p->mu);
      if (!p->usable_locked()) return MESH_E_STATE;
      value = p->settings;
    }
    return copy_out(value, buf, cap, needed);
  });
}

int32_t data_dir(void* ctx, char* buf, size_t cap, size_t* needed) {
  return guarded(ctx, [&](Runtime* p) {
    if (!p->usable()) return MESH_E_STATE;
    return copy_out(p->data_dir, buf, cap, needed);
  });
}

int32_t timer_start(void* ctx, uint64_t interval_ms, uint32_t repeat, mesh_timer_fn fn, void* user,
                    uint64_t* timer_id) {
  return guarded(ctx, [&](Runtime* p) {
    if (!fn || !timer_id) return MESH_E_INVALID;
    if (interval_ms > kMaxTimerMs) return MESH_E_LIMIT;
    if (repeat && interval_ms == 0) return MESH_E_INVALID;  // would spin
    std::lock_guard lock(p->mu);
    if (p->phase != Phase::active) return MESH_E_STATE;
    if (p->timers.size() >= kMaxTimers) return MESH_E_LIMIT;
    auto t = std::make_shared<Timer>(p->io);
    t->id = p->ids.fetch_add(1);
    t->interval = std::chrono::milliseconds(interval_ms);
    t->repeat = repeat != 0;
    t->fn = fn;
    t->user = user;
    p->timers.emplace(t->id, t);
    p->arm_locked(t);
    *timer_id = t->id;
    return MESH_OK;
  });
}

int32_t timer_cancel(void* ctx, uint64_t timer_id) {
  return guarded(ctx, [&](Runtime* p) {
    return p->with_entry(p->timers, timer_id, [&](auto it) {
      it->second->cancelled = true;
      it->second->timer.cancel();
      p->timers.erase(it);
    });
  });
}

int32_t heartbeat_set(void* ctx, mesh_str json) {
  return guarded(ctx, [&](Runtime* p) {
    if (json.len > kMaxHeartbeatValue) return MESH_E_LIMIT;
    if (json.len && !json.ptr) return MESH_E_INVALID;
    std::string value;
    if (json.len) {
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(as_view(json), ec);
      if (ec) return MESH_E_INVALID;
      value = boost::json::serialize(v);
      if (value.size() > kMaxHeartbeatValue) return MESH_E_LIMIT;
    }
    // Under Runtime::mu, so a value set while stopping cannot outlive the stop.
    std::lock_guard lock(p->mu);
    if (p->phase != Phase::active) return MESH_E_STATE;
    if (!p->beats) return MESH_E_UNSUPPORTED;
    std::lock_guard beats_lock(p->beats->mu);
    if (value.empty())
      p->beats->values.erase(p->id);
    else
      p->beats->values[p->id] = std::move(value);
    return MESH_OK;
  });
}

}  // namespace mesh::plugin::host
