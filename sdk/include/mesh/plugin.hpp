// mesh/plugin.hpp — optional header-only C++17 helper on top of the C ABI in mesh/plugin.h.
// One header on purpose, though over 900 lines: a plugin author includes exactly one file next
// to plugin.h, and the SDK installs exactly these two.
//
//   class Hello : public mesh::sdk::Plugin {
//    public:
//     void start() override {
//       route("GET", "/hello", [this](const mesh::sdk::HttpRequest& r) {
//         r.respond(mesh::sdk::HttpResponse::text(200, "hello\n"));
//       });
//     }
//   };
//   MESH_PLUGIN(Hello, "hello", "1.0.0")
//
// Streamed routes and peer connections (ABI 1.2):
//
//   stream_route("POST", "/echo", [this](const mesh::sdk::HttpRequest&, mesh::sdk::HttpStream s) {
//     workers_.emplace_back([s] {                 // never read from the handler itself
//       char buf[65536];
//       s.begin(200, {{"Content-Type", "application/octet-stream"}});
//       for (int64_t n; (n = s.read(buf, sizeof buf)) > 0;) s.write({buf, size_t(n)});
//       s.end(true);
//     });
//   });
//
//   mesh::sdk::PeerConn c;
//   if (c.connect(host(), "10.0.0.2:7979", "mesh:...") == MESH_OK) c.write("GET / HTTP/1.1...");
//
// What it adds over the C ABI:
//  - an exception barrier on every entry point and callback trampoline: an exception from
//    your code becomes MESH_E_INTERNAL plus its message (create/start), a 500 answer (HTTP
//    handlers) or exit code 1 (CLI handlers), and a log line; nothing ever unwinds into the host;
//  - the same barrier on event handlers (ABI 1.1): an exception means "not handled", so the
//    event is delivered again later;
//  - std::string/std::function conveniences, with the handler objects owned by the plugin
//    instance, so the `user` pointers handed to the host stay valid until destroy().
//
// Lifecycle mapping: create() constructs your class (default constructor, host not yet
// usable), then binds the host; start() -> start(); stop() -> stop(); destroy() -> delete.
// Register routes, verbs, timers and subscriptions in start(). Throwing from start() fails the
// plugin.
//
// Settings check (ABI 1.3): give your class
//   static void check_config(const std::string& json);   // your [plugins.<id>] table as JSON
// and throw (e.g. std::invalid_argument("max_push_bytes: must be positive")) to refuse. The host
// calls it before create() and on every `mesh reload` before anything changes, and points the
// user at the line of the setting your message starts with. It is static on purpose: it runs
// without an instance (or while one runs) and must not touch one.
#ifndef MESH_PLUGIN_HPP
#define MESH_PLUGIN_HPP

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mesh/plugin.h"

namespace mesh::sdk {

// Thrown by the registration helpers; the barrier turns it into the plugin's error message.
class Error : public std::runtime_error {
 public:
  Error(int32_t code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int32_t code() const noexcept { return code_; }

 private:
  int32_t code_;
};

inline mesh_str view(std::string_view s) noexcept {
  return mesh_str{s.data(), s.size()};
}
inline std::string_view view(mesh_str s) noexcept {
  return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
}

enum class Level : uint32_t {
  trace = MESH_LOG_TRACE,
  debug = MESH_LOG_DEBUG,
  info = MESH_LOG_INFO,
  warn = MESH_LOG_WARN,
  error = MESH_LOG_ERROR,
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  uint32_t status = 200;
  Headers headers;
  std::string body;

  static HttpResponse text(uint32_t status, std::string body) {
    return {status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body)};
  }
  static HttpResponse json(uint32_t status, std::string body) {
    return {status, {{"Content-Type", "application/json"}}, std::move(body)};
  }
  static HttpResponse html(uint32_t status, std::string body) {
    return {status, {{"Content-Type", "text/html; charset=utf-8"}}, std::move(body)};
  }
};

// A thin, copyable wrapper around the host table. Every call checks that the host's table is
// large enough to contain the function it uses (MESH_HAS_FIELD), so a plugin never reads past
// an older host's table.
class Host {
 public:
  Host() = default;
  explicit Host(const mesh_host* host) noexcept : h_(host) {}

  const mesh_host* raw() const noexcept { return h_; }
  explicit operator bool() const noexcept { return h_ != nullptr; }

  void log(Level level, std::string_view message) const noexcept {
    if (h_ && MESH_HAS_FIELD(h_, mesh_host, log) && h_->log)
      h_->log(h_->ctx, static_cast<uint32_t>(level), view(message));
  }
  void debug(std::string_view m) const noexcept { log(Level::debug, m); }
  void info(std::string_view m) const noexcept { log(Level::info, m); }
  void warn(std::string_view m) const noexcept { log(Level::warn, m); }
  void error(std::string_view m) const noexcept { log(Level::error, m); }

  // The plugin's [plugins.<id>] table as a JSON object ("{}" when it has none).
  std::string config_json() const { return copy_out(has_config() ? h_->config_json : nullptr); }
  // The plugin's private data directory (absolute, already created by the host).
  std::string data_dir() const { return copy_out(has_data_dir() ? h_->data_dir : nullptr); }

  int32_t http_respond(uint64_t call_id, const HttpResponse& response) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, http_respond) || !h_->http_respond)
      return MESH_E_UNSUPPORTED;
    std::vector<mesh_http_header> headers;
    try {
      headers.reserve(response.headers.size());
    } catch (...) {
      return MESH_E_INTERNAL;
    }
    for (const auto& [name, value] : response.headers) headers.push_back({view(name), view(value)});
    mesh_http_response r{};
    r.struct_size = sizeof r;
    r.status = response.status;
    r.headers = headers.data();
    r.header_count = headers.size();
    r.body = view(response.body);
    return h_->http_respond(h_->ctx, call_id, &r);
  }

  int32_t cli_respond(uint64_t call_id, int32_t exit_code, std::string_view output) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, cli_respond) || !h_->cli_respond)
      return MESH_E_UNSUPPORTED;
    return h_->cli_respond(h_->ctx, call_id, exit_code, view(output));
  }

  int32_t cli_chunk(uint64_t call_id, std::string_view text) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, cli_chunk) || !h_->cli_chunk)
      return MESH_E_UNSUPPORTED;
    return h_->cli_chunk(h_->ctx, call_id, view(text));
  }

  int32_t timer_cancel(uint64_t timer_id) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, timer_cancel) || !h_->timer_cancel)
      return MESH_E_UNSUPPORTED;
    return h_->timer_cancel(h_->ctx, timer_id);
  }

  // ---- ABI 1.1: events ----

  // True if the host table has the 1.1 event functions (publish ... self_json).
  bool has_events() const noexcept {
    return h_ && MESH_HAS_FIELD(h_, mesh_host, self_json) && h_->publish && h_->subscribe;
  }

  // Publishes an event. MESH_OK and *seq (0 for an ephemeral topic), or an error code and the
  // host's message in *error when given. Plugin::publish() is the throwing variant.
  int32_t publish(std::string_view topic, std::string_view payload, uint64_t* seq = nullptr,
                  std::string* error = nullptr) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, publish) || !h_->publish) {
      note(error, "the host does not offer publish (ABI 1.1)");
      return MESH_E_UNSUPPORTED;
    }
    char err[MESH_ERR_CAP] = {0};
    uint64_t s = 0;
    int32_t rc = h_->publish(h_->ctx, view(topic), view(payload), &s, err, sizeof err);
    if (seq) *seq = rc == MESH_OK ? s : 0;
    if (rc != MESH_OK) note(error, err);
    return rc;
  }

  int32_t unsubscribe(std::string_view name) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, unsubscribe) || !h_->unsubscribe)
      return MESH_E_UNSUPPORTED;
    return h_->unsubscribe(h_->ctx, view(name));
  }

  // The other members as a JSON array (the shape of `mesh peers --json`), and this node as
  // {"name","id"}. Throw Error when the host has no gossip (MESH_E_UNSUPPORTED).
  std::string peers_json() const { return copy_out(has_events() ? h_->peers_json : nullptr); }
  std::string self_json() const { return copy_out(has_events() ? h_->self_json : nullptr); }

  // ---- ABI 1.2: streamed HTTP, peer connections, heartbeat ----
  // Every function returns MESH_E_UNSUPPORTED on a host that lacks it.

  // True if the host table has the 1.2 functions (http_route2 ... heartbeat_set).
  bool has_abi_1_2() const noexcept {
    return h_ && MESH_HAS_FIELD(h_, mesh_host, heartbeat_set) && h_->http_route2 && h_->http_read &&
           h_->http_begin && h_->http_write && h_->http_end;
  }

  // Streamed calls (see HttpStream, which wraps these).
  int32_t http_read(uint64_t call_id, char* buf, size_t cap, size_t* got) const noexcept {
    if (got) *got = 0;
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, http_read) || !h_->http_read)
      return MESH_E_UNSUPPORTED;
    return h_->http_read(h_->ctx, call_id, buf, cap, got);
  }
  int32_t http_begin(uint64_t call_id, uint32_t status, const Headers& headers) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, http_begin) || !h_->http_begin)
      return MESH_E_UNSUPPORTED;
    std::vector<mesh_http_header> hs;
    try {
      hs.reserve(headers.size());
    } catch (...) {
      return MESH_E_INTERNAL;
    }
    for (const auto& [name, value] : headers) hs.push_back({view(name), view(value)});
    return h_->http_begin(h_->ctx, call_id, status, hs.data(), hs.size());
  }
  int32_t http_write(uint64_t call_id, std::string_view data) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, http_write) || !h_->http_write)
      return MESH_E_UNSUPPORTED;
    return h_->http_write(h_->ctx, call_id, view(data));
  }
  int32_t http_end(uint64_t call_id, bool ok) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, http_end) || !h_->http_end) return MESH_E_UNSUPPORTED;
    return h_->http_end(h_->ctx, call_id, ok ? 1u : 0u);
  }

  // A TLS connection to a member (see PeerConn, which wraps these). peer_id "mesh:..." pins
  // the server; empty accepts any member. timeout_ms 0 means 30 s. The host's message goes to
  // *error on failure.
  int32_t peer_connect(std::string_view host_port, std::string_view peer_id, uint32_t timeout_ms,
                       uint64_t* conn, std::string* error = nullptr) const noexcept {
    if (conn) *conn = 0;
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, peer_connect) || !h_->peer_connect) {
      note(error, "the host does not offer peer_connect (ABI 1.2)");
      return MESH_E_UNSUPPORTED;
    }
    char err[MESH_ERR_CAP] = {0};
    int32_t rc = h_->peer_connect(h_->ctx, view(host_port), view(peer_id), timeout_ms, conn, err,
                                  sizeof err);
    if (rc != MESH_OK) note(error, err);
    return rc;
  }
  int32_t peer_read(uint64_t conn, char* buf, size_t cap, size_t* got) const noexcept {
    if (got) *got = 0;
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, peer_read) || !h_->peer_read)
      return MESH_E_UNSUPPORTED;
    return h_->peer_read(h_->ctx, conn, buf, cap, got);
  }
  int32_t peer_write(uint64_t conn, std::string_view data) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, peer_write) || !h_->peer_write)
      return MESH_E_UNSUPPORTED;
    return h_->peer_write(h_->ctx, conn, view(data));
  }
  int32_t peer_close(uint64_t conn) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, peer_close) || !h_->peer_close)
      return MESH_E_UNSUPPORTED;
    return h_->peer_close(h_->ctx, conn);
  }

  // This plugin's part of every heartbeat: a JSON value of at most 8 KiB; empty clears it.
  // MESH_E_INVALID if it does not parse.
  int32_t heartbeat_set(std::string_view json) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, heartbeat_set) || !h_->heartbeat_set)
      return MESH_E_UNSUPPORTED;
    return h_->heartbeat_set(h_->ctx, view(json));
  }

  // ---- ABI 1.3: core services ----

  // The directory holding the node's bare mirrors (<root>/repos, absolute; it may not exist
  // yet). Throws Error(MESH_E_UNSUPPORTED) on a host without it.
  std::string repos_dir() const {
    return copy_out(h_ && MESH_HAS_FIELD(h_, mesh_host, repos_dir) ? h_->repos_dir : nullptr);
  }

  // This plugin's section of `mesh status` and of the node page: a JSON object whose members
  // join `mesh status --json` (at most 256 KiB; the core's own keys are MESH_E_INVALID), plain
  // text for `mesh status` (a heading line, then yours; 64 KiB) and an HTML fragment for the
  // page at "/" (256 KiB; escape every user string in it). Each call replaces the previous
  // section; all three empty clears it. It goes away when the plugin stops.
  int32_t status_set(std::string_view json, std::string_view text = {},
                     std::string_view html = {}) const noexcept {
    if (!h_ || !MESH_HAS_FIELD(h_, mesh_host, status_set) || !h_->status_set)
      return MESH_E_UNSUPPORTED;
    mesh_status s{};
    s.struct_size = sizeof s;
    s.json = view(json);
    s.text = view(text);
    s.html = view(html);
    return h_->status_set(h_->ctx, &s);
  }

 private:
  using CopyFn = int32_t (*)(void*, char*, size_t, size_t*);
  static void note(std::string* out, const char* what) noexcept {
    if (!out) return;
    try {
      *out = what;
    } catch (...) {
    }
  }
  bool has_config() const noexcept { return h_ && MESH_HAS_FIELD(h_, mesh_host, config_json); }
  bool has_data_dir() const noexcept { return h_ && MESH_HAS_FIELD(h_, mesh_host, data_dir); }

  // The two-call pattern: try a small buffer, grow to what the host says it needs.
  std::string copy_out(CopyFn fn) const {
    if (!fn) throw Error(MESH_E_UNSUPPORTED, "the host does not offer this service");
    std::string buf(256, '\0');
    for (int attempt = 0; attempt < 3; ++attempt) {
      size_t needed = 0;
      int32_t rc = fn(h_->ctx, buf.data(), buf.size(), &needed);
      if (rc == MESH_OK) {
        buf.resize(needed < buf.size() ? needed : buf.size());
        return buf;
      }
      if (rc != MESH_E_LIMIT || needed <= buf.size() || needed > kMaxCopy)
        throw Error(rc, "host refused the request (code " + std::to_string(rc) + ")");
      buf.assign(needed + 1, '\0');
    }
    throw Error(MESH_E_LIMIT, "host value keeps growing");
  }
  static constexpr size_t kMaxCopy = 16u << 20;

  const mesh_host* h_ = nullptr;
};

// A streamed call (ABI 1.2, a route registered with MESH_ROUTE_STREAM): a copyable handle
// that stays usable after the handler returned, from any thread. Every function blocks until
// the connection has done the work, so use it from a thread of your own, never from the
// handler. One thread may read() while another begin()s, write()s and end()s. Every call must
// finish with end() or respond(); errors are MESH_E_* codes, nothing throws.
class HttpStream {
 public:
  HttpStream() = default;
  HttpStream(Host host, uint64_t call_id) noexcept : host_(host), id_(call_id) {}

  uint64_t call_id() const noexcept { return id_; }
  const Host& host() const noexcept { return host_; }

  // Up to cap bytes of the request body: the count (0 at the end of the body), or a negative
  // MESH_E_* code (MESH_E_LIMIT past max_body, MESH_E_STATE when the client went away).
  int64_t read(char* buf, size_t cap) const noexcept {
    size_t got = 0;
    int32_t rc = host_.http_read(id_, buf, cap, &got);
    return rc == MESH_OK ? static_cast<int64_t>(got) : static_cast<int64_t>(rc);
  }
  int32_t read(char* buf, size_t cap, size_t* got) const noexcept {
    return host_.http_read(id_, buf, cap, got);
  }
  // Status line and headers; the body follows chunked.
  int32_t begin(uint32_t status, const Headers& headers = {}) const noexcept {
    return host_.http_begin(id_, status, headers);
  }
  // Returns once the data is on its way (back-pressure).
  int32_t write(std::string_view data) const noexcept { return host_.http_write(id_, data); }
  // ok: the last chunk (500 if nothing was begun); !ok: abort, the client sees a truncated
  // response. The call is over afterwards.
  int32_t end(bool ok = true) const noexcept { return host_.http_end(id_, ok); }
  // A whole response instead of begin/write/end (only before begin()).
  int32_t respond(const HttpResponse& response) const noexcept {
    return host_.http_respond(id_, response);
  }

 private:
  Host host_;
  uint64_t id_ = 0;
};

// A TLS 1.3 connection to another member (ABI 1.2), closed by the destructor. Blocking; one
// thread may read while another writes, and close() from a third wakes both. Errors are
// MESH_E_* codes: MESH_E_STATE when the connection broke, timed out or the server refused us
// (close it then), MESH_E_UNSUPPORTED on an older host.
class PeerConn {
 public:
  PeerConn() = default;
  ~PeerConn() { close(); }
  PeerConn(const PeerConn&) = delete;
  PeerConn& operator=(const PeerConn&) = delete;
  PeerConn(PeerConn&& other) noexcept : host_(other.host_), id_(other.id_.exchange(0)) {}
  PeerConn& operator=(PeerConn&& other) noexcept {
    if (this != &other) {
      close();
      host_ = other.host_;
      id_ = other.id_.exchange(0);
    }
    return *this;
  }

  // Connects to "host:port" / "[v6]:port"; peer_id "mesh:..." pins the member (empty: any
  // member). timeout_ms (0: 30 s) bounds the connect and every later read and write. Closes a
  // connection this object already had. The host's message goes to *error on failure.
  int32_t connect(const Host& host, std::string_view host_port, std::string_view peer_id = {},
                  uint32_t timeout_ms = 0, std::string* error = nullptr) noexcept {
    close();
    host_ = host;
    uint64_t id = 0;
    int32_t rc = host_.peer_connect(host_port, peer_id, timeout_ms, &id, error);
    if (rc == MESH_OK) id_ = id;
    return rc;
  }

  bool is_open() const noexcept { return id_.load() != 0; }
  uint64_t id() const noexcept { return id_.load(); }

  // At least one byte: the count (0 when the server closed the connection), or a negative
  // MESH_E_* code.
  int64_t read(char* buf, size_t cap) noexcept {
    size_t got = 0;
    int32_t rc = read(buf, cap, &got);
    return rc == MESH_OK ? static_cast<int64_t>(got) : static_cast<int64_t>(rc);
  }
  int32_t read(char* buf, size_t cap, size_t* got) noexcept {
    uint64_t id = id_.load();
    if (!id) {
      if (got) *got = 0;
      return MESH_E_STATE;
    }
    return host_.peer_read(id, buf, cap, got);
  }
  // Every byte.
  int32_t write(std::string_view data) noexcept {
    uint64_t id = id_.load();
    return id ? host_.peer_write(id, data) : MESH_E_STATE;
  }
  // MESH_OK if it was open. Safe from any thread.
  int32_t close() noexcept {
    uint64_t id = id_.exchange(0);
    return id ? host_.peer_close(id) : MESH_E_STATE;
  }

 private:
  Host host_;
  std::atomic<uint64_t> id_{0};
};

// An HTTP call, valid for the duration of the handler. Answer with respond() now, or keep
// call_id() and answer later with Host::http_respond() from any thread. On a streamed route
// take stream() and hand it to a thread of your own.
class HttpRequest {
 public:
  HttpRequest(Host host, const mesh_http_request* r) noexcept : host_(host), r_(r) {}

  uint64_t call_id() const noexcept { return r_->call_id; }
  std::string_view method() const noexcept { return view(r_->method); }
  std::string_view path() const noexcept { return view(r_->path); }
  std::string_view query() const noexcept { return view(r_->query); }
  std::string_view body() const noexcept { return view(r_->body); }
  std::string_view peer_id() const noexcept { return view(r_->peer_id); }
  std::string_view remote() const noexcept { return view(r_->remote); }
  bool from_member() const noexcept { return r_->client_kind == MESH_CLIENT_MEMBER; }
  bool local() const noexcept { return r_->client_kind == MESH_CLIENT_LOCAL; }
  bool tls() const noexcept { return MESH_HAS_FIELD(r_, mesh_http_request, tls) && r_->tls; }

  // ABI 1.3: the {name} capture of a pattern route (percent-decoded), or empty if the route
  // has none of that name (or the host fills no captures).
  std::string_view param(std::string_view name) const noexcept {
    if (!MESH_HAS_FIELD(r_, mesh_http_request, param_count) || !r_->params) return {};
    for (size_t i = 0; i < r_->param_count; ++i)
      if (view(r_->params[i].name) == name) return view(r_->params[i].value);
    return {};
  }

  // Case-insensitive; empty if absent.
  std::string_view header(std::string_view name) const noexcept {
    for (size_t i = 0; i < r_->header_count; ++i) {
      std::string_view n = view(r_->headers[i].name);
      if (n.size() != name.size()) continue;
      bool same = true;
      for (size_t k = 0; k < n.size() && same; ++k) same = lower(n[k]) == lower(name[k]);
      if (same) return view(r_->headers[i].value);
    }
    return {};
  }

  int32_t respond(const HttpResponse& response) const noexcept {
    return host_.http_respond(r_->call_id, response);
  }
  // The call as a stream (routes registered with MESH_ROUTE_STREAM only; the body is empty).
  HttpStream stream() const noexcept { return HttpStream(host_, r_->call_id); }
  const mesh_http_request* raw() const noexcept { return r_; }

 private:
  static char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
  Host host_;
  const mesh_http_request* r_;
};

// A CLI call, valid for the duration of the handler. Answer with reply() now, or keep
// call_id() and answer later with Host::cli_respond().
class CliRequest {
 public:
  CliRequest(Host host, const mesh_cli_request* r) : host_(host), r_(r) {
    args_.reserve(r->argc);
    for (size_t i = 0; i < r->argc; ++i) args_.push_back(view(r->argv[i]));
  }

  uint64_t call_id() const noexcept { return r_->call_id; }
  bool json() const noexcept { return r_->json != 0; }
  const std::vector<std::string_view>& args() const noexcept { return args_; }

  int32_t reply(int32_t exit_code, std::string_view output) const noexcept {
    return host_.cli_respond(r_->call_id, exit_code, output);
  }
  int32_t chunk(std::string_view text) const noexcept { return host_.cli_chunk(r_->call_id, text); }
  const mesh_cli_request* raw() const noexcept { return r_; }

 private:
  Host host_;
  const mesh_cli_request* r_;
  std::vector<std::string_view> args_;
};

// An event delivered to a subscription (ABI 1.1), valid for the duration of the handler: copy
// what you keep.
class Event {
 public:
  explicit Event(const mesh_event* e) noexcept : e_(e) {}

  std::string_view origin() const noexcept { return view(e_->origin); }  // "mesh:..."
  uint64_t seq() const noexcept { return e_->seq; }                      // 0 if ephemeral
  uint64_t lamport() const noexcept { return e_->lamport; }
  uint64_t wall_ms() const noexcept { return e_->wall_ms; }
  std::string_view topic() const noexcept { return view(e_->topic); }
  std::string_view payload() const noexcept { return view(e_->payload); }
  bool ephemeral() const noexcept { return (e_->flags & MESH_EVENT_EPHEMERAL) != 0; }
  const mesh_event* raw() const noexcept { return e_; }

 private:
  const mesh_event* e_;
};

using HttpHandler = std::function<void(const HttpRequest&)>;
// A streamed route's handler: keep the stream, give it to a thread, return.
using StreamHandler = std::function<void(const HttpRequest&, HttpStream)>;
using CliHandler = std::function<void(const CliRequest&)>;
using TimerHandler = std::function<void()>;
// Returns true when the event is handled; false (or a throw) has it delivered again later.
using EventHandler = std::function<bool(const Event&)>;

namespace detail {
template <typename T>
struct Glue;
}

// Base class for C++ plugins. Derive, override start()/stop(), register in start().
class Plugin {
 public:
  Plugin() = default;
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;
  virtual ~Plugin() = default;

  // Throw (anything) to fail; the message reaches `mesh plugins`.
  virtual void start() {}
  // The host has already removed routes, verbs, timers and subscriptions and waited for
  // running callbacks.
  virtual void stop() {}

  const Host& host() const noexcept { return host_; }
  void log(Level level, std::string_view m) const noexcept { host_.log(level, m); }

 protected:
  // Routes `path` and everything below `path/` for `method` ("*" for any) to handler.
  // flags (ABI 1.2): MESH_ROUTE_LOCAL (loopback clients only), MESH_ROUTE_STREAM (prefer
  // stream_route()); non-zero flags throw Error(MESH_E_UNSUPPORTED) on an older host.
  void route(std::string_view method, std::string_view path, HttpHandler handler,
             uint64_t max_body = 1u << 20, uint32_t flags = 0) {
    const mesh_host* h = host_.raw();
    if (flags != 0)
      require(h && MESH_HAS_FIELD(h, mesh_host, http_route2) && h->http_route2,
              "http_route2 (ABI 1.2)");
    else
      require(h && MESH_HAS_FIELD(h, mesh_host, http_route) && h->http_route, "http_route");
    auto& slot = emplace(http_, Slot<HttpHandler>{this, std::move(handler)});
    char err[MESH_ERR_CAP] = {0};
    int32_t rc = flags != 0 ? h->http_route2(h->ctx, view(method), view(path), max_body, flags,
                                             &http_tramp, &slot, err, sizeof err)
                            : h->http_route(h->ctx, view(method), view(path), max_body, &http_tramp,
                                            &slot, err, sizeof err);
    if (rc != MESH_OK) fail(rc, "route " + std::string(method) + " " + std::string(path), err);
  }

  // ABI 1.2. A streamed route: the body is not buffered; handler gets the call as an
  // HttpStream and hands it to a thread of its own (never read from the handler). max_body
  // caps what HttpStream::read returns. flags may add MESH_ROUTE_LOCAL.
  void stream_route(std::string_view method, std::string_view path, StreamHandler handler,
                    uint64_t max_body = 1ull << 30, uint32_t flags = 0) {
    route(
        method, path, [fn = std::move(handler)](const HttpRequest& r) { fn(r, r.stream()); },
        max_body, flags | MESH_ROUTE_STREAM);
  }

  // ABI 1.2. Sets this plugin's part of every heartbeat (see Host::heartbeat_set).
  int32_t heartbeat_set(std::string_view json) noexcept { return host_.heartbeat_set(json); }

  // Registers `mesh <verb> ...`.
  void verb(std::string_view name, std::string_view summary, CliHandler handler) {
    require(MESH_HAS_FIELD(host_.raw(), mesh_host, cli_verb) && host_.raw()->cli_verb, "cli_verb");
    auto& slot = emplace(cli_, Slot<CliHandler>{this, std::move(handler)});
    char err[MESH_ERR_CAP] = {0};
    const mesh_host* h = host_.raw();
    int32_t rc = h->cli_verb(h->ctx, view(name), view(summary), &cli_tramp, &slot, err, sizeof err);
    if (rc != MESH_OK) fail(rc, "verb " + std::string(name), err);
  }

  // Runs fn after `interval` (and every `interval` after that if repeat). Returns the timer id.
  uint64_t timer(std::chrono::milliseconds interval, bool repeat, TimerHandler fn) {
    require(MESH_HAS_FIELD(host_.raw(), mesh_host, timer_start) && host_.raw()->timer_start,
            "timer_start");
    auto& slot = emplace(timers_, TimerSlot{this, std::move(fn), !repeat});
    const mesh_host* h = host_.raw();
    uint64_t id = 0;
    int32_t rc = h->timer_start(h->ctx, static_cast<uint64_t>(interval.count()), repeat ? 1u : 0u,
                                &timer_tramp, &slot, &id);
    if (rc != MESH_OK) fail(rc, "timer", "");
    return id;
  }
  // After this returns no new run starts (one may still be running on another thread).
  int32_t cancel_timer(uint64_t id) noexcept { return host_.timer_cancel(id); }

  // ABI 1.1. Publishes an event; returns its seq (0 for an ephemeral topic). Throws Error when
  // the host refuses (bad topic, payload over 64 KiB, no gossip: MESH_E_UNSUPPORTED).
  uint64_t publish(std::string_view topic, std::string_view payload) {
    uint64_t seq = 0;
    std::string err;
    int32_t rc = host_.publish(topic, payload, &seq, &err);
    if (rc != MESH_OK) fail(rc, "publish " + std::string(topic), err.c_str());
    return seq;
  }

  // ABI 1.1. Delivers events matching `pattern` ("ci" = "ci" and "ci.*"; "*" = all) to
  // handler on the plugin executor, exactly once per node through the persisted cursor `name`.
  // Throws Error when the host refuses; Error::code() is MESH_E_UNSUPPORTED on a host without
  // events (an older daemon, or one without gossip), which a plugin may tolerate.
  void subscribe(std::string_view name, std::string_view pattern, EventHandler handler) {
    require(
        host_.raw() && MESH_HAS_FIELD(host_.raw(), mesh_host, subscribe) && host_.raw()->subscribe,
        "subscribe (ABI 1.1)");
    auto& slot = emplace(events_, Slot<EventHandler>{this, std::move(handler)});
    char err[MESH_ERR_CAP] = {0};
    const mesh_host* h = host_.raw();
    int32_t rc =
        h->subscribe(h->ctx, view(name), view(pattern), &event_tramp, &slot, err, sizeof err);
    if (rc != MESH_OK) fail(rc, "subscribe " + std::string(name), err);
  }
  // The cursor stays; a handler already running may finish. Handler objects live until destroy.
  int32_t unsubscribe(std::string_view name) noexcept { return host_.unsubscribe(name); }

 private:
  template <typename T>
  friend struct detail::Glue;

  template <typename Fn>
  struct Slot {
    Plugin* self;
    Fn fn;
  };
  struct TimerSlot {
    Plugin* self;
    TimerHandler fn;
    bool once;
  };

  // std::list keeps the addresses handed to the host as `user` stable.
  template <typename S>
  S& emplace(std::list<S>& list, S&& slot) {
    std::lock_guard<std::mutex> lock(mu_);
    list.push_back(std::move(slot));
    return list.back();
  }

  static void require(bool ok, const char* what) {
    if (!ok) throw Error(MESH_E_UNSUPPORTED, std::string("the host does not offer ") + what);
  }
  static void fail(int32_t rc, const std::string& what, const char* err) {
    std::string m = what + " failed (code " + std::to_string(rc) + ")";
    if (err && *err) m += ": " + std::string(err);
    throw Error(rc, m);
  }

  void report(const char* where, const char* what) const noexcept {
    char buf[MESH_ERR_CAP];
    std::snprintf(buf, sizeof buf, "%s threw: %s", where, what);
    host_.error(buf);
  }

  static void http_tramp(void* user, const mesh_http_request* req) noexcept {
    auto* slot = static_cast<Slot<HttpHandler>*>(user);
    if (!slot || !req) return;
    const Host host = slot->self->host_;
    try {
      slot->fn(HttpRequest(host, req));
      return;
    } catch (const std::exception& e) {
      slot->self->report("HTTP handler", e.what());
    } catch (...) {
      slot->self->report("HTTP handler", "unknown exception");
    }
    // Harmless if the handler had already answered (the host says MESH_E_NOT_FOUND).
    static const char kBody[] = "internal error in plugin\n";
    mesh_http_header ct{view("Content-Type"), view("text/plain; charset=utf-8")};
    mesh_http_response r{};
    r.struct_size = sizeof r;
    r.status = 500;
    r.headers = &ct;
    r.header_count = 1;
    r.body = mesh_str{kBody, sizeof kBody - 1};
    const mesh_host* h = host.raw();
    if (h && h->http_respond) h->http_respond(h->ctx, req->call_id, &r);
  }

  static void cli_tramp(void* user, const mesh_cli_request* req) noexcept {
    auto* slot = static_cast<Slot<CliHandler>*>(user);
    if (!slot || !req) return;
    const Host host = slot->self->host_;
    // The message is formatted inside the catch: e.what() dies with the exception object.
    char buf[MESH_ERR_CAP];
    int n = 0;
    try {
      slot->fn(CliRequest(host, req));
      return;
    } catch (const std::exception& e) {
      slot->self->report("CLI handler", e.what());
      n = std::snprintf(buf, sizeof buf, "internal error in plugin: %s\n", e.what());
    } catch (...) {
      slot->self->report("CLI handler", "unknown exception");
      n = std::snprintf(buf, sizeof buf, "internal error in plugin: unknown exception\n");
    }
    host.cli_respond(req->call_id, 1,
                     std::string_view(buf, n < 0 ? 0 : std::min<size_t>(n, sizeof buf - 1)));
  }

  static int32_t event_tramp(void* user, const mesh_event* ev) noexcept {
    auto* slot = static_cast<Slot<EventHandler>*>(user);
    if (!slot || !ev || !MESH_HAS_FIELD(ev, mesh_event, payload)) return MESH_E_INVALID;
    try {
      return slot->fn(Event(ev)) ? MESH_OK : MESH_EVENT_RETRY;
    } catch (const std::exception& e) {
      slot->self->report("event handler", e.what());
    } catch (...) {
      slot->self->report("event handler", "unknown exception");
    }
    return MESH_E_INTERNAL;  // not handled: delivered again later
  }

  static void timer_tramp(void* user, uint64_t) noexcept {
    auto* slot = static_cast<TimerSlot*>(user);
    if (!slot) return;
    Plugin* self = slot->self;
    try {
      slot->fn();
    } catch (const std::exception& e) {
      self->report("timer", e.what());
    } catch (...) {
      self->report("timer", "unknown exception");
    }
    // A one-shot timer never fires again: drop its handler so repeated one-shots don't pile up.
    if (slot->once) {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->timers_.remove_if([slot](const TimerSlot& s) { return &s == slot; });
    }
  }

  Host host_;
  std::mutex mu_;
  std::list<Slot<HttpHandler>> http_;
  std::list<Slot<CliHandler>> cli_;
  std::list<TimerSlot> timers_;
  std::list<Slot<EventHandler>> events_;
};

namespace detail {

inline void set_error(char* err, size_t cap, const char* what) noexcept {
  if (!err || cap == 0) return;
  std::snprintf(err, cap, "%s", what ? what : "unknown error");
}

// A host of our major and at least our minor (the host refuses newer plugin minors) has a
// table at least as large as the one this plugin was compiled against.
inline constexpr size_t kHostMinSize = sizeof(mesh_host);

// Whether plugin class T declares `static void check_config(const std::string&)`.
template <typename T, typename = void>
struct HasCheckConfig : std::false_type {};
template <typename T>
struct HasCheckConfig<T, std::void_t<decltype(T::check_config(std::declval<const std::string&>()))>>
    : std::true_type {};

// The C entry points for plugin class T, each behind an exception barrier.
template <typename T>
struct Glue {
  static_assert(std::is_base_of_v<Plugin, T>, "MESH_PLUGIN class must derive mesh::sdk::Plugin");

  static int32_t create(const mesh_host* host, void** instance, char* err, size_t cap) noexcept {
    try {
      if (!instance) return set_error(err, cap, "no instance pointer"), MESH_E_INVALID;
      *instance = nullptr;
      if (!host || host->struct_size < kHostMinSize)
        return set_error(err, cap, "host table too small"), MESH_E_UNSUPPORTED;
      if (host->abi_major != MESH_ABI_MAJOR)
        return set_error(err, cap, "host ABI major differs"), MESH_E_UNSUPPORTED;
      auto p = std::make_unique<T>();
      static_cast<Plugin&>(*p).host_ = Host(host);
      *instance = static_cast<Plugin*>(p.release());
      return MESH_OK;
    } catch (const std::exception& e) {
      set_error(err, cap, e.what());
    } catch (...) {
      set_error(err, cap, "unknown exception in create");
    }
    return MESH_E_INTERNAL;
  }

  static int32_t start(void* instance, char* err, size_t cap) noexcept {
    if (!instance) return set_error(err, cap, "no instance"), MESH_E_INVALID;
    try {
      static_cast<Plugin*>(instance)->start();
      return MESH_OK;
    } catch (const Error& e) {
      set_error(err, cap, e.what());
      return e.code() < 0 ? e.code() : MESH_E_INTERNAL;
    } catch (const std::exception& e) {
      set_error(err, cap, e.what());
    } catch (...) {
      set_error(err, cap, "unknown exception in start");
    }
    return MESH_E_INTERNAL;
  }

  static void stop(void* instance) noexcept {
    if (!instance) return;
    auto* p = static_cast<Plugin*>(instance);
    try {
      p->stop();
    } catch (const std::exception& e) {
      p->report("stop", e.what());
    } catch (...) {
      p->report("stop", "unknown exception");
    }
  }

  static void destroy(void* instance) noexcept {
    try {
      delete static_cast<Plugin*>(instance);
    } catch (...) {
      // A throwing destructor would terminate anyway; nothing can be reported any more.
    }
  }

  static int32_t check_config(const char* json, size_t len, char* err, size_t cap) noexcept {
    if constexpr (HasCheckConfig<T>::value) {
      try {
        T::check_config(json ? std::string(json, len) : std::string());
        return MESH_OK;
      } catch (const std::exception& e) {
        set_error(err, cap, e.what());
      } catch (...) {
        set_error(err, cap, "check_config refused the settings (unknown exception)");
      }
      return MESH_E_INVALID;
    } else {
      (void)json, (void)len, (void)err, (void)cap;
      return MESH_OK;
    }
  }

  static const mesh_plugin_descriptor* descriptor(const char* id, const char* version) noexcept {
    static const mesh_plugin_descriptor d = {sizeof(mesh_plugin_descriptor),
                                             MESH_ABI_MAJOR,
                                             MESH_ABI_MINOR,
                                             id,
                                             version,
                                             &create,
                                             &start,
                                             &stop,
                                             &destroy,
                                             HasCheckConfig<T>::value ? &check_config : nullptr};
    return &d;
  }
};

}  // namespace detail
}  // namespace mesh::sdk

// Defines mesh_plugin_entry for plugin class `Class` with the given id and version (string
// literals). The id must equal the manifest's id (mesh_add_plugin's ID).
#define MESH_PLUGIN(Class, id, version)                                                   \
  extern "C" MESH_PLUGIN_EXPORT const mesh_plugin_descriptor* mesh_plugin_entry(          \
      uint32_t host_abi_major, uint32_t host_abi_minor) {                                 \
    (void)host_abi_minor;                                                                 \
    /* Always describe ourselves: the host gives the clearer message about a mismatch. */ \
    (void)host_abi_major;                                                                 \
    return ::mesh::sdk::detail::Glue<Class>::descriptor(id, version);                     \
  }                                                                                       \
  static_assert(sizeof(id) > 1 && sizeof(version) > 1, "MESH_PLUGIN id and version are needed")

#endif  // MESH_PLUGIN_HPP
