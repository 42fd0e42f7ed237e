// Route table and the plain request/response helpers. No Beast here, so this file compiles fast.
#include "mesh/http/router.hpp"

#include <algorithm>
#include <cctype>

namespace mesh::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

// "/" and "" match every path; "/a/" matches "/a" and everything under it; "/a" matches "/a"
// and "/a/..." but not "/ab".
bool prefix_matches(std::string_view prefix, std::string_view path) {
  if (prefix.empty() || prefix == "/") return true;
  if (prefix.back() == '/') prefix.remove_suffix(1);
  if (!path.starts_with(prefix)) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

std::size_t prefix_length(std::string_view prefix) {
  if (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  return prefix.size();
}

// Registrations that would shadow each other exactly.
template <typename R>
bool same_slot(const R& r, std::string_view method, std::string_view prefix,
               const RouteOptions& options) {
  return r.method == method && r.prefix == prefix && r.options.exact == options.exact;
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

Response Response::text(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

Response Response::json(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

RouteId Router::add(std::string method, std::string path_prefix, RouteOptions options,
                    Handler handler) {
  std::lock_guard lock(mu_);
  // Re-registering the same method+prefix replaces the old route (its id stops working).
  std::erase_if(routes_,
                [&](const Route& r) { return same_slot(r, method, path_prefix, options); });
  RouteId id = next_++;
  routes_.push_back(
      Route{id, std::move(method), std::move(path_prefix), options, std::move(handler), nullptr});
  return id;
}

bool Router::try_add(std::string method, std::string path_prefix, RouteOptions options,
                     Handler handler, RouteId* id) {
  std::lock_guard lock(mu_);
  for (const auto& r : routes_) {
    if (same_slot(r, method, path_prefix, options)) return false;
  }
  RouteId new_id = next_++;
  routes_.push_back(Route{new_id, std::move(method), std::move(path_prefix), options,
                          std::move(handler), nullptr});
  if (id) *id = new_id;
  return true;
}

bool Router::try_add_stream(std::string method, std::string path_prefix, RouteOptions options,
                            StreamHandler handler, RouteId* id) {
  std::lock_guard lock(mu_);
  for (const auto& r : routes_) {
    if (same_slot(r, method, path_prefix, options)) return false;
  }
  RouteId new_id = next_++;
  routes_.push_back(Route{new_id, std::move(method), std::move(path_prefix), options, nullptr,
                          std::move(handler)});
  if (id) *id = new_id;
  return true;
}

void Router::remove(RouteId id) {
  std::lock_guard lock(mu_);
  std::erase_if(routes_, [id](const Route& r) { return r.id == id; });
  std::erase_if(ws_routes_, [id](const WsRoute& r) { return r.id == id; });
}

RouteId Router::add_websocket(std::string path, WsRouteHandler handler) {
  std::lock_guard lock(mu_);
  std::erase_if(ws_routes_, [&](const WsRoute& r) { return r.path == path; });
  RouteId id = next_++;
  ws_routes_.push_back(WsRoute{id, std::move(path), std::move(handler)});
  return id;
}

WsRouteHandler Router::find_websocket(std::string_view path) const {
  std::lock_guard lock(mu_);
  for (const auto& r : ws_routes_) {
    if (r.path == path) return r.handler;
  }
  return nullptr;
}

std::variant<Router::Match, Router::Miss> Router::find(std::string_view method,
                                                       std::string_view path) const {
  std::lock_guard lock(mu_);
  const Route* best = nullptr;
  bool path_known = false;
  for (const auto& r : routes_) {
    if (!prefix_matches(r.prefix, path)) continue;
    if (r.options.exact && path != r.prefix) continue;
    path_known = true;
    if (r.method != "*" && r.method != method) continue;
    if (!best) {
      best = &r;
      continue;
    }
    std::size_t len = prefix_length(r.prefix);
    std::size_t best_len = prefix_length(best->prefix);
    // Longest prefix first; on a tie an exact route beats a prefix route, then an exact
    // method beats "*".
    if (len > best_len) {
      best = &r;
    } else if (len == best_len) {
      if (r.options.exact != best->options.exact) {
        if (r.options.exact) best = &r;
      } else if (best->method == "*" && r.method != "*") {
        best = &r;
      }
    }
  }
  if (best) return Match{best->options, best->handler, best->stream};
  return path_known ? Miss::method_not_allowed : Miss::not_found;
}

}  // namespace mesh::http
