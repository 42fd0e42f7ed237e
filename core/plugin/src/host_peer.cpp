// Host functions for peer connections (ABI 1.2): TLS 1.3 to another member, made by the core
// with this node's certificate, so plugins never hold the node's key.
#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "host_api.hpp"
#include "runtime.hpp"

namespace mesh::plugin {

namespace {

constexpr auto kDefaultPeerTimeout = std::chrono::milliseconds(30'000);

// A broken, timed-out or refused connection stays broken: the plugin closes it.
int32_t peer_code(const Error& e) {
  return e.code == Errc::invalid ? MESH_E_INVALID : MESH_E_STATE;
}

// member id -> the address a connection to it last succeeded at (tried first the next time).
// Process-wide like the connector: every plugin dials the same members.
struct AddressBook {
  std::mutex mu;
  std::map<std::string, std::string> last_good;
};
AddressBook& address_book() {
  static AddressBook book;
  return book;
}

// The addresses `mesh peers --json` lists for member `id`, the one that last worked first.
std::vector<std::string> addresses_of(const std::string& peers_json, const std::string& id) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(peers_json, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    const auto* o = e.if_object();
    const auto* pid = o ? o->if_contains("id") : nullptr;
    if (!pid || !pid->is_string() || pid->as_string() != id) continue;
    if (const auto* a = o->if_contains("addresses"); a && a->is_array()) {
      for (const auto& x : a->as_array()) {
        if (x.is_string() && x.as_string().size() <= kMaxHostPort) out.emplace_back(x.as_string());
      }
    }
  }
  auto& book = address_book();
  std::lock_guard lock(book.mu);
  if (auto it = book.last_good.find(id); it != book.last_good.end()) {
    auto at = std::find(out.begin(), out.end(), it->second);
    if (at != out.end()) std::rotate(out.begin(), at, at + 1);
  }
  return out;
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
    if (hp.size() > kMaxHostPort || (host_port.len && !host_port.ptr))
      return set_err(err, err_cap, "host_port must be host:port or [v6]:port"), MESH_E_INVALID;
    std::optional<identity::PublicKey> pin;
    if (auto pid = as_view(peer_id); !pid.empty()) {
      auto key = identity::parse_id(pid);
      if (!key) return set_err(err, err_cap, "peer_id is not a mesh:... id"), MESH_E_INVALID;
      pin = *key;
    }
    // An empty host_port (ABI 1.3) dials the member's known addresses in turn.
    std::vector<std::string> targets;
    if (hp.empty()) {
      if (!pin) {
        return set_err(err, err_cap, "an empty host_port needs a peer_id"), MESH_E_INVALID;
      }
      if (!p->bus) return set_err(err, err_cap, "no member addresses here"), MESH_E_UNSUPPORTED;
      targets = addresses_of(p->bus->peers_json(), pin->id());
      if (targets.empty()) {
        return set_err(err, err_cap, "no known address for that member"), MESH_E_NOT_FOUND;
      }
    } else {
      targets.emplace_back(hp);
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
    std::string failures;
    for (const auto& target : targets) {
      try {
        r = p->connector->connect(target, pin, timeout, &p->cancel_connects);
      } catch (const std::exception& e) {
        r = make_error(Errc::internal, e.what());
      }
      if (r) {
        if (hp.empty()) {
          auto& book = address_book();
          std::lock_guard lock(book.mu);
          if (book.last_good.size() > 4096) book.last_good.clear();
          book.last_good[pin->id()] = target;
        }
        break;
      }
      if (r.error().code == Errc::state) break;  // cancelled: the plugin is stopping
      if (targets.size() > 1) failures += (failures.empty() ? "" : "; ") + r.error().message;
    }
    if (!r && !failures.empty()) r = make_error(r.error().code, failures);
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
