// Route table and the plain request/response helpers. No Beast here, so this file compiles fast.
#include "mesh/http/router.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <array>

#include "mesh/http/url.hpp"

namespace mesh::http {
namespace {

constexpr std::size_t kMaxCaptureName = 64;

// "/a/b" -> {a, b}; "/" -> {}; "/a/" -> {a, ""}. Views into `path`.
std::vector<std::string_view> split_segments(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::vector<std::string_view> out;
  if (path.empty()) return out;
  for (std::size_t i = 0;;) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) {
      out.push_back(path.substr(i));
      return out;
    }
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
}

// A plain path without its trailing "/" ("/" and "" stay "/").
std::string_view normalized_prefix(std::string_view prefix) {
  if (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
  return prefix.empty() ? std::string_view("/") : prefix;
}

// "/" matches every path; "/a" matches "/a" and "/a/..." but not "/ab".
bool prefix_matches(std::string_view prefix, std::string_view path) {
  prefix = normalized_prefix(prefix);
  if (prefix == "/") return true;
  if (!path.starts_with(prefix)) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

bool valid_capture_name(std::string_view n) {
  if (n.empty() || n.size() > kMaxCaptureName) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(n[0])) return false;
  return std::all_of(n.begin(), n.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

// How specifically a route matched the path's segment at one position (see Router).
enum Rank : int { below_prefix = 0, tail = 1, capture = 2, literal = 3 };

}  // namespace

std::string_view Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (boost::beast::iequals(key, name)) return value;
  }
  return {};
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
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

Result<Router::Route> Router::compile(std::string method, std::string path, RouteOptions options) {
  Route r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.options = std::move(options);
  if (r.path.find_first_of("{}") == std::string::npos) {
    r.shape = std::string(r.options.exact ? "exact " : "prefix ") +
              std::string(normalized_prefix(r.path));
    return r;
  }
  if (r.path.empty() || r.path.front() != '/') {
    return make_error(Errc::invalid, "a pattern path must start with '/'");
  }
  r.pattern = true;
  r.options.exact = true;
  r.shape = "pattern ";
  const auto parts = split_segments(r.path);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string_view seg = parts[i];
    Segment s{Segment::Kind::literal, std::string(seg)};
    if (seg.find_first_of("{}") != std::string_view::npos) {
      if (seg.size() < 3 || seg.front() != '{' || seg.back() != '}') {
        return make_error(
            Errc::invalid,
            "'" + std::string(seg) + "': a capture is a whole segment, {name} or {name...}");
      }
      std::string_view name = seg.substr(1, seg.size() - 2);
      s.kind = Segment::Kind::capture;
      if (name.ends_with("...")) {
        name.remove_suffix(3);
        s.kind = Segment::Kind::tail;
        if (i + 1 != parts.size()) {
          return make_error(Errc::invalid, "'" + std::string(seg) + "': a tail capture comes last");
        }
      }
      if (!valid_capture_name(name)) {
        return make_error(Errc::invalid, "'" + std::string(seg) +
                                             "': capture names are [A-Za-z_][A-Za-z0-9_]{0,63}");
      }
      for (const auto& other : r.segments) {
        if (other.kind != Segment::Kind::literal && other.text == name) {
          return make_error(Errc::invalid, "capture {" + std::string(name) + "} appears twice");
        }
      }
      s.text = std::string(name);
    }
    r.shape += "/";
    r.shape += s.kind == Segment::Kind::literal   ? s.text
               : s.kind == Segment::Kind::capture ? std::string("{}")
                                                  : std::string("{...}");
    r.segments.push_back(std::move(s));
  }
  return r;
}

bool Router::insert(Route route, bool replace, RouteId* id, RouteError* error) {
  std::lock_guard lock(mu_);
  auto same = [&](const Route& r) { return r.method == route.method && r.shape == route.shape; };
  if (replace) {
    std::erase_if(routes_, same);
  } else if (auto it = std::find_if(routes_.begin(), routes_.end(), same); it != routes_.end()) {
    if (error) {
      error->kind = RouteError::Kind::conflict;
      error->owner = it->options.owner;
      error->message = route.method + " " + route.path + " conflicts with " + it->method + " " +
                       it->path + ", already registered by " + it->options.owner;
    }
    return false;
  }
  route.id = next_++;
  if (id) *id = route.id;
  routes_.push_back(std::move(route));
  return true;
}

RouteId Router::add(std::string method, std::string path, RouteOptions options, Handler handler) {
  auto route = compile(std::move(method), std::move(path), std::move(options));
  if (!route) return 0;
  route->handler = std::move(handler);
  RouteId id = 0;
  insert(std::move(*route), true, &id, nullptr);
  return id;
}

bool Router::try_add(std::string method, std::string path, RouteOptions options, Handler handler,
                     RouteId* id, RouteError* error) {
  auto route = compile(std::move(method), std::move(path), std::move(options));
  if (!route) {
    if (error) *error = RouteError{RouteError::Kind::invalid, {}, route.error().message};
    return false;
  }
  route->handler = std::move(handler);
  return insert(std::move(*route), false, id, error);
}

bool Router::try_add_stream(std::string method, std::string path, RouteOptions options,
                            StreamHandler handler, RouteId* id, RouteError* error) {
  auto route = compile(std::move(method), std::move(path), std::move(options));
  if (!route) {
    if (error) *error = RouteError{RouteError::Kind::invalid, {}, route.error().message};
    return false;
  }
  route->stream = std::move(handler);
  return insert(std::move(*route), false, id, error);
}

std::optional<std::string> Router::conflicting_owner(std::string_view method, std::string_view path,
                                                     const RouteOptions& options) const {
  auto route = compile(std::string(method), std::string(path), options);
  if (!route) return std::nullopt;
  std::lock_guard lock(mu_);
  for (const auto& r : routes_) {
    if (r.method == route->method && r.shape == route->shape) return r.options.owner;
  }
  return std::nullopt;
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
  const auto segs = split_segments(path);
  const std::size_t n = segs.size();

  // A candidate: the route, how it ranked at each path segment, and its raw captures.
  struct Candidate {
    const Route* route = nullptr;
    std::vector<int> ranks;
    std::vector<std::pair<std::string_view, std::string_view>> raw;
    std::size_t length = 0;  // segments in the route's path
  };
  auto match = [&](const Route& r, Candidate& c) -> bool {
    c.route = &r;
    c.ranks.assign(n, Rank::literal);
    c.raw.clear();
    if (!r.pattern) {
      if (!prefix_matches(r.path, path)) return false;
      if (r.options.exact && path != r.path) return false;
      c.length = split_segments(normalized_prefix(r.path)).size();
      for (std::size_t i = c.length; i < n; ++i) c.ranks[i] = Rank::below_prefix;
      return true;
    }
    const auto& pat = r.segments;
    const bool has_tail = !pat.empty() && pat.back().kind == Segment::Kind::tail;
    if (has_tail ? n < pat.size() : n != pat.size()) return false;
    c.length = pat.size();
    for (std::size_t i = 0; i < pat.size(); ++i) {
      const auto& p = pat[i];
      if (p.kind == Segment::Kind::literal) {
        if (segs[i] != p.text) return false;
      } else if (p.kind == Segment::Kind::capture) {
        if (segs[i].empty()) return false;
        c.ranks[i] = Rank::capture;
        c.raw.emplace_back(p.text, segs[i]);
      } else {
        std::string_view rest = path.substr(static_cast<std::size_t>(segs[i].data() - path.data()));
        if (rest.empty()) return false;
        for (std::size_t k = i; k < n; ++k) c.ranks[k] = Rank::tail;
        c.raw.emplace_back(p.text, rest);
      }
    }
    return true;
  };
  // Whether a beats b (see the precedence rules in router.hpp).
  auto better = [](const Candidate& a, const Candidate& b) {
    if (a.ranks != b.ranks) return a.ranks > b.ranks;  // lexicographic, left to right
    if (a.length != b.length) return a.length > b.length;
    if (a.route->options.exact != b.route->options.exact) return a.route->options.exact;
    return a.route->method != "*" && b.route->method == "*";
  };

  std::lock_guard lock(mu_);
  std::optional<Candidate> best;
  Candidate c;
  bool path_known = false;
  for (const auto& r : routes_) {
    if (!match(r, c)) continue;
    path_known = true;
    if (r.method != "*" && r.method != method) continue;
    if (!best || better(c, *best)) best = c;
  }
  if (!best) return path_known ? Miss::method_not_allowed : Miss::not_found;
  Match m{best->route->options, best->route->handler, best->route->stream, {}};
  for (const auto& [name, raw] : best->raw) {
    auto value = decode_path_text(raw);
    if (!value) return Miss::bad_request;
    m.params.emplace_back(std::string(name), std::move(*value));
  }
  return m;
}

}  // namespace mesh::http
