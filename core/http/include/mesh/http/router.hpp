// HTTP request/response values and the route table. No Beast here: handlers see plain structs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::http {

struct Request {
  std::string method;  // upper case
  std::string target;  // as received
  std::string path;    // target without the query
  std::string query;   // text after '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // "ip:port"
  bool loopback = false;
  bool tls = false;
  std::optional<identity::PublicKey> peer;  // set when a member certificate was presented
  // The {name} captures of a pattern route, percent-decoded, in path order (a {name...} tail
  // holds the rest of the path, slashes included). Empty for plain routes.
  std::vector<std::pair<std::string, std::string>> params;

  // Case-insensitive header lookup; empty if absent.
  std::string_view header(std::string_view name) const;
  // A capture of the route's pattern by name; empty if absent.
  std::string_view param(std::string_view name) const;
};

struct Response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static Response text(unsigned status, std::string body);
  static Response json(unsigned status, std::string body);
};

// Called exactly once per request, from any thread, now or later. Extra calls are ignored; if
// every copy is dropped unanswered the client gets a 500. Calling it after the connection or the
// server has gone is harmless (the answer is dropped).
using Responder = std::function<void(Response)>;
// Invoked on the connection's I/O strand: it must not block. Hand slow work (git, plugins,
// disk) to another executor and answer through the Responder from there. Exceptions thrown by
// a handler become a 500.
using Handler = std::function<void(Request&&, Responder)>;

// One streamed request/response (a route registered with add_stream): the body is not
// buffered. Every method blocks the calling thread until the connection has done the work, so
// call them from a thread of your own, never from the handler (which runs on the I/O strand).
// One thread may read while another writes (git needs that: its stdin and stdout are pumped
// separately); reads are sequential, and so are begin/write/end/respond.
// Dropping the last reference without end() or respond() answers 500 if nothing was sent yet,
// and otherwise closes the connection (a truncated chunked body, which clients detect).
class Exchange {
 public:
  virtual ~Exchange() = default;
  // Up to `cap` bytes of the request body, de-chunked (a gzip body stays gzip). 0 at the end.
  // Errc::limit past RouteOptions::max_body, Errc::io when the client went away or the body
  // timeout passed, Errc::invalid for a malformed chunked body.
  virtual Result<std::size_t> read(char* buf, std::size_t cap) = 0;
  // Sends the status line and headers; the body follows chunked (Content-Length and
  // Transfer-Encoding from `headers` are ignored). Errc::state if already begun.
  virtual Status begin(unsigned status,
                       std::vector<std::pair<std::string, std::string>> headers) = 0;
  // Writes one chunk (empty data is a no-op); returns once it is on the wire.
  virtual Status write(std::string_view data) = 0;
  // ok: sends the last chunk (after begin(); without begin() it answers 500). !ok: closes the
  // connection. Further calls fail with Errc::state.
  virtual Status end(bool ok) = 0;
  // A whole response instead of begin/write/end (only before begin()).
  virtual Status respond(Response r) = 0;
};
// Invoked on the connection's I/O strand with the request (empty body); must not block.
using StreamHandler = std::function<void(Request&&, std::shared_ptr<Exchange>)>;

class WsConnection;  // websocket.hpp
// Called on the link's strand once an upgrade was accepted (see websocket.hpp). Must not block.
using WsRouteHandler = std::function<void(const Request&, std::shared_ptr<WsConnection>)>;

// Who may call a route.
enum class Access {
  local,   // loopback clients only (UI, local git client)
  member,  // loopback clients and authenticated members
  open,    // anyone, also without a certificate from another host (only the join handshake)
};

struct RouteOptions {
  // Larger bodies (by Content-Length or while reading a chunked body) get 413 and the handler
  // never runs. The whole body is buffered into Request::body.
  std::size_t max_body = 1 << 20;
  Access access = Access::member;
  // Matches only the path equal to the prefix (e.g. the status page at "/", which must not
  // swallow every other path). An exact route and a prefix route may share method and prefix;
  // the exact one wins on its own path. Pattern routes are always exact.
  bool exact = false;
  // Who registered the route ("core", "plugin ci"): named when another registration conflicts.
  std::string owner = "core";
};

using RouteId = std::uint64_t;

// Why try_add* refused a route.
struct RouteError {
  enum class Kind { none, conflict, invalid };
  Kind kind = Kind::none;
  std::string owner;    // conflict: the owner of the route already registered
  std::string message;  // e.g. "GET /repos/{repo}/ci is already registered by plugin ci"
};

// Thread-safe route table. Routes may be added and removed while the server runs.
//
// Paths. A plain path is a prefix: it matches the path equal to it or starting with it plus
// "/" ("/" matches every path; a trailing "/" is ignored), unless RouteOptions::exact. A
// pattern path has whole segments "{name}" (one non-empty segment) and may end in "{name...}"
// (one or more segments, the rest of the path); it matches exactly, never as a prefix, and its
// captures reach the handler percent-decoded in Request::params (a bad escape or a decoded NUL
// is Miss::bad_request, answered 400). Literal segments are compared as received (not decoded).
// Capture names are [A-Za-z_][A-Za-z0-9_]{0,63}, unique within a path.
//
// Precedence. Among the routes whose method fits (method "*" fits any; methods are
// case-sensitive), segment by segment from the left: a literal segment beats a capture, a
// capture beats a tail, and a tail beats what a prefix route matches below its prefix; then the
// longer path wins, an exact route beats a prefix route, and an exact method beats "*". So a
// longer prefix registered for POST does not hide a shorter one's GET. When some route matches
// the path but none takes the method, find() says method_not_allowed.
//
// Conflicts. Two routes of one method conflict when their paths have the same shape: the same
// plain path (and both exact or both prefix), or the same pattern up to capture names
// ("/repos/{repo}/ci" and "/repos/{name}/ci").
class Router {
 public:
  // Registering a route of the same method and shape again replaces the earlier one. An
  // invalid pattern registers nothing and returns 0.
  RouteId add(std::string method, std::string path, RouteOptions options, Handler handler);
  // Fails (returns false, and fills *error if given) on a conflict or an invalid pattern.
  bool try_add(std::string method, std::string path, RouteOptions options, Handler handler,
               RouteId* id, RouteError* error = nullptr);
  // A streamed route (see Exchange); otherwise like try_add. RouteOptions::max_body caps the
  // bytes Exchange::read returns. HEAD does not fall back to a streamed GET route.
  bool try_add_stream(std::string method, std::string path, RouteOptions options,
                      StreamHandler handler, RouteId* id, RouteError* error = nullptr);
  void remove(RouteId id);
  // The owner of the route a registration of method+path would conflict with, if any.
  std::optional<std::string> conflicting_owner(std::string_view method, std::string_view path,
                                               const RouteOptions& options) const;

  // A WebSocket endpoint at exactly `path`, for authenticated members only (anyone else gets
  // 403). Registering the same path again replaces the earlier endpoint; remove() takes its id.
  // Upgrade requests for other paths are routed like any request.
  RouteId add_websocket(std::string path, WsRouteHandler handler);
  // Empty if no endpoint is registered at exactly `path`.
  WsRouteHandler find_websocket(std::string_view path) const;

  struct Match {
    RouteOptions options;
    Handler handler;  // exactly one of handler and stream is set
    StreamHandler stream;
    std::vector<std::pair<std::string, std::string>> params;  // decoded captures, path order
  };
  enum class Miss { not_found, method_not_allowed, bad_request };
  // Returns the handler, or why there is none.
  std::variant<Match, Miss> find(std::string_view method, std::string_view path) const;

 private:
  struct Segment {
    enum class Kind { literal, capture, tail };
    Kind kind;
    std::string text;  // the literal, or the capture's name
  };
  struct Route {
    RouteId id;
    std::string method;
    std::string path;  // as registered
    RouteOptions options;
    Handler handler;
    StreamHandler stream;
    bool pattern = false;
    std::vector<Segment> segments;  // the path split at "/" (patterns only)
    std::string shape;              // conflict key (see Router)
  };
  struct WsRoute {
    RouteId id;
    std::string path;
    WsRouteHandler handler;
  };
  static Result<Route> compile(std::string method, std::string path, RouteOptions options);
  bool insert(Route route, bool replace, RouteId* id, RouteError* error);

  mutable std::mutex mu_;
  std::vector<Route> routes_;
  std::vector<WsRoute> ws_routes_;
  RouteId next_ = 1;
};

}  // namespace mesh::http
