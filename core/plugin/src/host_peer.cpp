// Host functions for peer connections (ABI 1.2): TLS 1.3 to another member, made by the core
// with this node's certificate, so plugins never hold the node's key.
#include <optional>

#include "host_api.hpp"
#include "runtime.hpp"

namespace mesh::plugin {

namespace {

constexpr auto kDefaultPeerTimeout = std::chrono::milliseconds(30'000);

// A broken, timed-out or refused connection stays broken: the plugin closes it.
int32_t peer_code(const Error& e) {
  return e.code == Errc::invalid ? MESH_E_INVALID : MESH_E_STATE;
}

}  // namespace

std::shared_ptr<http::PeerConn> Runtime::find_peer(std::uint64_t conn) {
  std::shared_ptr<http::PeerConn> c;
  with_entry(peer_conns, conn, [&](auto it) { c = it->second; });
  return c;
}

namespace host {

int32_t peer_connect(void* ctx, mesh_str host_port, mesh_str peer_id, uint32_t timeout_ms,
                     uint64_t* conn, char* err, size_t err_cap) {
  return guarded(ctx, err, err_cap, [&](Runtime* p) {
    if (!conn) return set_err(err, err_cap, "no conn pointer"), MESH_E_INVALID;
    *conn = 0;
    auto hp = as_view(host_port);
    if (hp.empty() || hp.size() > kMaxHostPort || (host_port.len && !host_port.ptr))
      return set_err(err, err_cap, "host_port must be host:port or [v6]:port"), MESH_E_INVALID;
    std::optional<identity::PublicKey> pin;
    if (auto pid = as_view(peer_id); !pid.empty()) {
      auto key = identity::parse_id(pid);
      if (!key) return set_err(err, err_cap, "peer_id is not a mesh:... id"), MESH_E_INVALID;
      pin = *key;
    }
    if (timeout_ms > kMaxPeerTimeoutMs)
      return set_err(err, err_cap, "timeout_ms is longer than a day"), MESH_E_LIMIT;
    if (!p->connector)
      return set_err(err, err_cap, "this daemon offers no peer connections"), MESH_E_UNSUPPORTED;
    {
      std::lock_guard lock(p->mu);
      if (p->phase != Phase::active)
        return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
      if (p->peer_conns.size() + p->connecting >= kMaxPeerConns)
        return set_err(err, err_cap, "too many peer connections (at most 256)"), MESH_E_LIMIT;
      ++p->connecting;
    }
    auto timeout = timeout_ms ? std::chrono::milliseconds(timeout_ms) : kDefaultPeerTimeout;
    Result<std::shared_ptr<http::PeerConn>> r = make_error(Errc::internal, "connect failed");
    try {
      r = p->connector->connect(hp, pin, timeout, &p->cancel_connects);
    } catch (const std::exception& e) {
      r = make_error(Errc::internal, e.what());
    }
    std::lock_guard lock(p->mu);
    --p->connecting;
    if (!r) {
      set_err(err, err_cap, r.error().message);
      return r.error().code == Errc::invalid ? MESH_E_INVALID
             : r.error().code == Errc::state ? MESH_E_STATE
                                             : MESH_E_INTERNAL;
    }
    if (p->phase != Phase::active) {
      (*r)->close();
      return set_err(err, err_cap, "plugin is stopping"), MESH_E_STATE;
    }
    const std::uint64_t id = p->ids.fetch_add(1);
    p->peer_conns.emplace(id, std::move(*r));
    *conn = id;
    return MESH_OK;
  });
}

int32_t peer_read(void* ctx, uint64_t conn, char* buf, size_t cap, size_t* got) {
  return guarded(ctx, [&](Runtime* p) {
    if (!got) return MESH_E_INVALID;
    *got = 0;
    if (cap && !buf) return MESH_E_INVALID;
    auto c = p->find_peer(conn);
    if (!c) return MESH_E_NOT_FOUND;
    auto r = c->read(buf, cap);
    if (!r) {
      p->log(spdlog::level::debug, r.error().message);
      return peer_code(r.error());
    }
    *got = *r;
    return MESH_OK;
  });
}

int32_t peer_write(void* ctx, uint64_t conn, mesh_str data) {
  return guarded(ctx, [&](Runtime* p) {
    if (data.len && !data.ptr) return MESH_E_INVALID;
    auto c = p->find_peer(conn);
    if (!c) return MESH_E_NOT_FOUND;
    auto st = c->write(as_view(data));
    if (!st) {
      p->log(spdlog::level::debug, st.error().message);
      return peer_code(st.error());
    }
    return MESH_OK;
  });
}

int32_t peer_close(void* ctx, uint64_t conn) {
  return guarded(ctx, [&](Runtime* p) {
    std::shared_ptr<http::PeerConn> c;
    int32_t rc = p->with_entry(p->peer_conns, conn, [&](auto it) {
      c = std::move(it->second);
      p->peer_conns.erase(it);
    });
    if (rc != MESH_OK) return rc;
    c->close();
    return MESH_OK;
  });
}

}  // namespace host
}  // namespace mesh::plugin
