/*
 * mesh/plugin.h — the stable C ABI between the mesh daemon and its plugins.
 *
 * ABI 1.3. Pure C99, no link dependencies: a plugin links against nothing from the daemon.
 * 1.1 added events: mesh_event, mesh_event_handler and, at the end of mesh_host, publish,
 * subscribe, unsubscribe, peers_json and self_json.
 * 1.2 added streamed HTTP (http_route2 with MESH_ROUTE_* flags, http_read, http_begin,
 * http_write, http_end), peer connections (peer_connect, peer_read, peer_write, peer_close)
 * and heartbeat_set, all at the end of mesh_host.
 * 1.3 added pattern routes ({name} segments, captured into mesh_http_request.params), core
 * services (repos_dir, status_set), the web layer (ui_render, ui_respond, ui_asset, ui_nav,
 * markdown_render, sse_publish), the runner registry (runner_register, runner_unregister,
 * job_log, job_done for runners; runners_json, job_submit, job_cancel for orchestrators), and
 * the settings check check_config at the end of mesh_plugin_descriptor.
 *
 * Rules (docs/plugin-sdk.md explains them with examples):
 *
 *  Entry      A plugin exports exactly one symbol, mesh_plugin_entry(host_major, host_minor).
 *             It returns a pointer to a static mesh_plugin_descriptor, or NULL when it cannot
 *             work with that host. The host refuses a plugin whose major differs from its own
 *             or whose minor is newer than its own.
 *  Structs    Every struct that crosses the boundary starts with `uint32_t struct_size` and only
 *             ever grows at its end. Read a field only if struct_size covers it
 *             (MESH_HAS_FIELD). Enumerations are fixed-width integers, never C enums.
 *  Ownership  Never crosses the boundary. Inputs are borrowed {ptr,len} views, valid for the
 *             duration of the call only: copy what you keep. Each side frees only what it
 *             allocated. Strings in views are not NUL-terminated.
 *  Errors     Functions return int32_t: MESH_OK (0) or a negative MESH_E_* code. Where a
 *             function takes (char* err, size_t err_cap), it writes a NUL-terminated message
 *             of at most err_cap bytes into that caller-owned buffer on failure.
 *             C++ exceptions must never cross the boundary (mesh/plugin.hpp adds a barrier).
 *  Threads    Host functions are thread-safe and never call back into the plugin
 *             synchronously. Plugin callbacks (HTTP handlers, CLI verbs, timers, events) run on the
 *             host's plugin executor, never on I/O threads, and may block briefly; answer long
 *             work asynchronously with the *_respond functions from any thread.
 *  Lifecycle  create -> start -> ... -> stop -> destroy. After stop() returns the plugin makes
 *             no more host calls; the host has already removed its routes, verbs and timers
 *             and waits for running callbacks before calling stop(). The host never unloads
 *             the shared object while the daemon runs.
 */
#ifndef MESH_PLUGIN_H
#define MESH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MESH_ABI_MAJOR 1
#define MESH_ABI_MINOR 3

/* Size of the error buffers the host hands to plugins (and expects from them). */
#define MESH_ERR_CAP 256

#if defined(__GNUC__)
#define MESH_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define MESH_PLUGIN_EXPORT
#endif

/* True if a struct of the given size contains `field` (for structs that grew later). */
#define MESH_HAS_FIELD(ptr, type, field) \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* Status codes. */
#define MESH_OK 0
#define MESH_E_INVALID (-1)     /* bad argument or malformed input */
#define MESH_E_NOT_FOUND (-2)   /* unknown id, call, route or verb */
#define MESH_E_EXISTS (-3)      /* already registered */
#define MESH_E_LIMIT (-4)       /* a size or count limit was hit */
#define MESH_E_STATE (-5)       /* not allowed in the current lifecycle state */
#define MESH_E_UNSUPPORTED (-6) /* the other side does not offer this */
#define MESH_E_INTERNAL (-7)    /* anything else; see the error message */

/* Log levels. */
#define MESH_LOG_TRACE 0u
#define MESH_LOG_DEBUG 1u
#define MESH_LOG_INFO 2u
#define MESH_LOG_WARN 3u
#define MESH_LOG_ERROR 4u

/* A borrowed view of bytes or text (not NUL-terminated). */
typedef struct mesh_str {
  const char* ptr;
  size_t len;
} mesh_str;

typedef struct mesh_http_header {
  mesh_str name;
  mesh_str value;
} mesh_http_header;

/* How the caller of an HTTP route reached this node. */
#define MESH_CLIENT_LOCAL 0u  /* a loopback client (user's git, curl, browser) */
#define MESH_CLIENT_MEMBER 1u /* a peer authenticated by its roster certificate */

typedef struct mesh_http_request {
  uint32_t struct_size;
  uint32_t client_kind; /* MESH_CLIENT_* */
  uint64_t call_id;     /* pass to mesh_host.http_respond */
  mesh_str method;      /* "GET", "POST", ... */
  mesh_str path;        /* the path as received (not percent-decoded), without the query */
  mesh_str query;       /* text after '?', may be empty */
  const mesh_http_header* headers;
  size_t header_count;
  mesh_str body;    /* the whole body, at most the route's max_body bytes */
  mesh_str peer_id; /* "mesh:..." for MESH_CLIENT_MEMBER, empty otherwise */
  mesh_str remote;  /* "ip:port" of the client */
  uint32_t tls;     /* 1 if the request came over TLS */
  /* ABI 1.3 (MESH_HAS_FIELD): the {name} captures of a pattern route, percent-decoded, in
     path order (name without braces; a {name...} tail capture holds the rest of the path). */
  const mesh_http_header* params;
  size_t param_count;
} mesh_http_request;

typedef struct mesh_http_response {
  uint32_t struct_size;
  uint32_t status; /* HTTP status code */
  const mesh_http_header* headers;
  size_t header_count;
  mesh_str body;
} mesh_http_response;

typedef struct mesh_cli_request {
  uint32_t struct_size;
  uint32_t json;        /* 1 if the user passed --json: answer with exactly one JSON document */
  uint64_t call_id;     /* pass to mesh_host.cli_respond */
  const mesh_str* argv; /* the verb's arguments, without the verb itself */
  size_t argc;
} mesh_cli_request;

/* ABI 1.2: flags of http_route2. */
/* The body is not buffered: read it with http_read, answer with http_begin/http_write/http_end
   (or http_respond). */
#define MESH_ROUTE_STREAM 1u
/* Loopback clients only (UI pages); members get 403. State-changing methods (anything but
   GET/HEAD/OPTIONS) on such a route also need the node's CSRF token (header X-Mesh-Csrf, or a
   `csrf` field of an application/x-www-form-urlencoded body) and a same-origin Origin or
   Referer; the host refuses the request with 403 before the handler runs. */
#define MESH_ROUTE_LOCAL 2u

/* ABI 1.3: a sink for output the host produces (rendered HTML, markdown). Called on the calling
   thread, zero or more times, before the producing function returns. */
typedef void (*mesh_write_fn)(void* user, const char* data, size_t len);

/* ABI 1.3: status_set. Each part may be empty. */
typedef struct mesh_status {
  uint32_t struct_size;
  /* A JSON object whose members join `mesh status --json` at the top level (e.g. "repos"), at
     most 256 KiB. The core's own keys (node, peers, nearby, gossip, plugins, sections) are
     refused with MESH_E_INVALID. */
  mesh_str json;
  /* Plain text for `mesh status`: a heading line then the plugin's lines, each indented by two
     spaces (the CLI prints it as is, after the core's own parts), at most 64 KiB. */
  mesh_str text;
  /* An HTML fragment for the node page at "/", at most 256 KiB. It is inserted as is: it is
     the plugin's own markup, so escape every user string in it (ui_render does). */
  mesh_str html;
} mesh_status;

/* ABI 1.3: ui_respond. A page in the node's layout: header (node name, peers up/down),
   navigation, footer (version), the shared stylesheet, and the security headers
   (Content-Security-Policy without inline script, X-Content-Type-Options, frame-ancestors). */
typedef struct mesh_ui_page {
  uint32_t struct_size;
  uint32_t status;    /* HTTP status, e.g. 200 or 404 */
  mesh_str title;     /* plain text; the host escapes it */
  mesh_str repo;      /* non-empty: the page belongs to this repo, which gets the repo tabs */
  mesh_str tab;       /* the ui_nav label to highlight, e.g. "CI" */
  mesh_str body_html; /* the main content, trusted markup (escape user strings: ui_render) */
  /* Space-separated script URLs to load at the end of the body, each /assets/... (the host's
     "mesh.js" and "sortable.js", or a plugin's /assets/<plugin id>/<name>). */
  mesh_str scripts;
} mesh_ui_page;

/* ABI 1.3: the runner registry. */
/* Job outcomes (job_done, mesh_job_done_fn). */
#define MESH_JOB_PASSED 0u
#define MESH_JOB_FAILED 1u    /* a command failed: exit_code says how */
#define MESH_JOB_CANCELLED 2u /* job_cancel, or the submitting plugin stopped */
#define MESH_JOB_TIMED_OUT 3u /* the job's timeout_ms passed */
#define MESH_JOB_ERROR 4u     /* the runner could not run it (no image, no engine, bad mode) */

/* A name/value pair (environment entries, secrets). */
typedef struct mesh_kv {
  mesh_str name;
  mesh_str value;
} mesh_kv;

/* One job, borrowed for the duration of run() (runners) or job_submit() (orchestrators). */
typedef struct mesh_job {
  uint32_t struct_size;
  uint32_t flags;  /* none yet: 0 */
  uint64_t job_id; /* the host's id (run() only; ignored by job_submit) */
  mesh_str run_id; /* the orchestrator's ids, for logs and labels */
  mesh_str job_name;
  mesh_str repo;
  mesh_str sha;
  mesh_str mode;            /* "shell", "docker", or a runner's own mode */
  mesh_str image;           /* the container image for container modes, else empty */
  mesh_str workdir;         /* absolute path of the checked-out tree the commands run in */
  const mesh_str* commands; /* run in order in one shell session, stop at the first failure */
  size_t command_count;
  /* job_submit: the job's own variables; the host adds PATH, HOME, LANG and the names in
     [runner] env_passthrough from its own environment. run(): the whole environment besides
     secrets. */
  const mesh_kv* env;
  size_t env_count;
  /* job_submit: the names of the secrets the job declares (values empty); the host takes their
     values from <root>/secrets.yml and refuses a name that is not defined there. run(): names
     and values. Put them in the job's environment, never on a command line; the host masks
     their raw, base64 and URL-encoded values in every job_log. */
  const mesh_kv* secrets;
  size_t secret_count;
  uint64_t timeout_ms; /* 0: none; the host cancels the job when it passes */
} mesh_job;

/* A runner a plugin offers. */
typedef struct mesh_runner {
  uint32_t struct_size;
  mesh_str name;         /* unique on this node: [a-z0-9][a-z0-9-]{0,31} */
  const mesh_str* modes; /* the job modes it runs, e.g. "shell" */
  size_t mode_count;
  const mesh_str* labels; /* what it offers, e.g. "linux", "x86_64" */
  size_t label_count;
  uint32_t slots; /* jobs at once, 1..64 */
  /* Runs one job on a thread the host made for it; may block until the job ends. Stream
     output with job_log and finish with job_done (exactly once; returning without it counts as
     MESH_JOB_ERROR). Not on the plugin executor: this is the one callback that may block long. */
  void (*run)(void* user, const mesh_job* job);
  /* Asks a running job to stop (kill its process group or container). Only signals: it must
     return at once; run() then reports MESH_JOB_CANCELLED. */
  void (*cancel)(void* user, uint64_t job_id);
  void* user;
} mesh_runner;

/* How an orchestrator hears about a job it submitted. Both run on the submitting plugin's
   executor, in order: every log call before done, done exactly once. */
typedef void (*mesh_job_log_fn)(void* user, uint64_t job_id, mesh_str data);
typedef void (*mesh_job_done_fn)(void* user, uint64_t job_id, uint32_t outcome, int32_t exit_code,
                                 mesh_str reason);
typedef struct mesh_job_sink {
  uint32_t struct_size;
  mesh_job_log_fn log;
  mesh_job_done_fn done;
  void* user;
} mesh_job_sink;

/* ABI 1.1: one gossip event, borrowed for the duration of the handler call. */
#define MESH_EVENT_EPHEMERAL 1u /* a live-only topic: never stored, seq is 0, no redelivery */

typedef struct mesh_event {
  uint32_t struct_size;
  uint32_t flags;   /* MESH_EVENT_* */
  mesh_str origin;  /* the publishing node, "mesh:..." */
  uint64_t seq;     /* per-origin sequence number, from 1; 0 for ephemeral events */
  uint64_t lamport; /* Lamport clock at publication */
  uint64_t wall_ms; /* the origin's wall clock at publication, ms since the Unix epoch */
  mesh_str topic;
  mesh_str payload; /* at most 64 KiB */
} mesh_event;

typedef void (*mesh_http_handler)(void* user, const mesh_http_request* request);
typedef void (*mesh_cli_handler)(void* user, const mesh_cli_request* request);
typedef void (*mesh_timer_fn)(void* user, uint64_t timer_id);
/* Returns MESH_OK (0) when the event is handled (the subscription's cursor moves past it);
   anything else, e.g. MESH_EVENT_RETRY, has the host deliver the same event again later. */
#define MESH_EVENT_RETRY 1
typedef int32_t (*mesh_event_handler)(void* user, const mesh_event* event);

/* The services the host offers. Passed to create(); valid until destroy() returns. */
typedef struct mesh_host {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  void* ctx; /* pass as the first argument of every function below */

  void (*log)(void* ctx, uint32_t level, mesh_str message);

  /* Copies the plugin's own [plugins.<id>] table of mesh.toml, as a JSON object, into buf.
   *needed receives the full length; MESH_E_LIMIT if cap is too small (nothing written). */
  int32_t (*config_json)(void* ctx, char* buf, size_t cap, size_t* needed);
  /* Copies the plugin's private data directory (absolute path, created by the host). */
  int32_t (*data_dir)(void* ctx, char* buf, size_t cap, size_t* needed);

  /* Routes requests whose path equals `path` or starts with `path` + "/" to handler.
     max_body caps the request body; larger bodies get 413 before the handler runs. */
  int32_t (*http_route)(void* ctx, mesh_str method, mesh_str path, uint64_t max_body,
                        mesh_http_handler handler, void* user, char* err, size_t err_cap);
  /* Answers a request once; may be called from any thread, also after the handler returned. */
  int32_t (*http_respond)(void* ctx, uint64_t call_id, const mesh_http_response* response);

  /* Registers `mesh <verb> ...`, served through the control socket and listed in `mesh help`. */
  int32_t (*cli_verb)(void* ctx, mesh_str verb, mesh_str summary, mesh_cli_handler handler,
                      void* user, char* err, size_t err_cap);
  /* Answers a CLI call once: exit code (0 ok, 1 failure, 2 usage) and the text for stdout
     (stderr when exit_code != 0). */
  int32_t (*cli_respond)(void* ctx, uint64_t call_id, int32_t exit_code, mesh_str output);

  /* Runs fn after interval_ms, and every interval_ms after that if repeat != 0. */
  int32_t (*timer_start)(void* ctx, uint64_t interval_ms, uint32_t repeat, mesh_timer_fn fn,
                         void* user, uint64_t* timer_id);
  int32_t (*timer_cancel)(void* ctx, uint64_t timer_id);

  /* Streams partial output of a pending CLI call before its cli_respond (e.g. `--follow`).
     MESH_E_NOT_FOUND once the call has been answered or the client has gone away: a
     following handler stops then (and still calls cli_respond, which is harmless). */
  int32_t (*cli_chunk)(void* ctx, uint64_t call_id, mesh_str text);

  /* ---- ABI 1.1: events. Check MESH_HAS_FIELD(host, mesh_host, publish) before use. ---- */

  /* Publishes an event from this node. topic: [a-z][a-z0-9._-]{0,63}; payload: at most 64 KiB.
     Stored topics are appended to this node's signed feed and replicated to every member; *seq_out
     (may be NULL) receives the event's seq. Ephemeral topics ("heartbeat", "presence", anything
     ending in ".live") reach live links only and *seq_out is 0. Local topics ("local" and
     "local.*", ABI 1.3) reach this node's subscribers only, never a link, and are never stored
     (*seq_out is 0; e.g. "local.sync", which `mesh sync` publishes). The "roster" and
     "heartbeat" topic families are reserved to the daemon (MESH_E_INVALID). MESH_E_UNSUPPORTED if
     this daemon runs without gossip. Allowed until stop() returns. */
  int32_t (*publish)(void* ctx, mesh_str topic, mesh_str payload, uint64_t* seq_out, char* err,
                     size_t err_cap);
  /* Delivers every event whose topic matches topic_pattern to handler, on the plugin executor.
     The pattern "ci" matches "ci" and "ci.<anything>"; "*" matches every topic. `name`
     ([a-z0-9][a-z0-9._-]{0,47}, unique within the plugin) names a persisted cursor: stored
     events reach the handler exactly once per node, in per-origin seq order, across restarts,
     including events published while the plugin was not running. A handler that returns
     non-zero gets the same event again later. At most 64 subscriptions per plugin. */
  int32_t (*subscribe)(void* ctx, mesh_str name, mesh_str topic_pattern, mesh_event_handler handler,
                       void* user, char* err, size_t err_cap);
  /* Detaches a subscription; its cursor is kept, so subscribing again under the same name
     resumes where it stopped. A handler already running may finish. MESH_E_NOT_FOUND if none. */
  int32_t (*unsubscribe)(void* ctx, mesh_str name);
  /* The other members as a JSON array, the shape of `mesh peers --json`:
     [{"name":..,"id":"mesh:..","state":"up"|"down","addresses":[..],"last_seen_ms":..}].
     Copy semantics as config_json. */
  int32_t (*peers_json)(void* ctx, char* buf, size_t cap, size_t* needed);
  /* This node as a JSON object: {"name":..,"id":"mesh:..","version":..,"listen":"host:port",
     "root":"/abs/path","exe":"/abs/path/to/mesh"} (version, listen, root and exe since ABI 1.3;
     the updater restarts the daemon with them). Copy semantics as config_json. */
  int32_t (*self_json)(void* ctx, char* buf, size_t cap, size_t* needed);

  /* ---- ABI 1.2. Check MESH_HAS_FIELD(host, mesh_host, http_route2) before use. ---- */

  /* http_route with flags (MESH_ROUTE_*). With MESH_ROUTE_STREAM the handler gets an empty
     request->body; max_body (at most 64 GiB; 1 GiB without the flag) then caps the bytes
     http_read returns (more: MESH_E_LIMIT and
     the client gets 413 if nothing was sent yet). Streamed calls are not counted against the
     plugin's pending-call limit: cap them yourself. */
  int32_t (*http_route2)(void* ctx, mesh_str method, mesh_str path, uint64_t max_body,
                         uint32_t flags, mesh_http_handler handler, void* user, char* err,
                         size_t err_cap);
  /* Streamed calls only. Blocks until up to cap bytes of the request body (de-chunked, as
     sent: a gzip body stays gzip) are read; *got = 0 at the end of the body. MESH_E_LIMIT past
     max_body, MESH_E_STATE when the client went away or timed out. One reader at a time; it
     may run concurrently with http_begin/http_write/http_end on another thread. Never call
     it from the handler itself: hand the call to a thread of your own. */
  int32_t (*http_read)(void* ctx, uint64_t call_id, char* buf, size_t cap, size_t* got);
  /* Streamed calls only. Blocks until the status line and headers are sent; the body follows
     chunked (Content-Length and Transfer-Encoding headers are ignored). */
  int32_t (*http_begin)(void* ctx, uint64_t call_id, uint32_t status,
                        const mesh_http_header* headers, size_t header_count);
  /* Blocks until data is written to the connection (this is the back-pressure). */
  int32_t (*http_write)(void* ctx, uint64_t call_id, mesh_str data);
  /* Ends a streamed call: ok != 0 sends the last chunk; ok == 0 aborts (the connection is
     closed, so the client sees a truncated response). Without http_begin, ok != 0 answers 500
     unless http_respond was used. The call_id is dead afterwards. Every streamed call must
     end with http_end or http_respond; a plugin that stops first has its calls aborted. */
  int32_t (*http_end)(void* ctx, uint64_t call_id, uint32_t ok);

  /* A TLS 1.3 connection to another member, made with this node's certificate and accepted only
     if the server presents the certificate of a current member (peer_id "mesh:..." pins one
     member; empty accepts any member). host_port: "host:port" or "[v6]:port". Blocking;
     timeout_ms bounds the connect and every later read and write (0: 30 s). */
  int32_t (*peer_connect)(void* ctx, mesh_str host_port, mesh_str peer_id, uint32_t timeout_ms,
                          uint64_t* conn, char* err, size_t err_cap);
  /* Blocks until at least one byte is read; *got = 0 when the server closed the connection. */
  int32_t (*peer_read)(void* ctx, uint64_t conn, char* buf, size_t cap, size_t* got);
  /* Blocks until every byte is written. */
  int32_t (*peer_write)(void* ctx, uint64_t conn, mesh_str data);
  /* Closes and forgets conn. Connections a plugin leaves open are closed when it stops. */
  int32_t (*peer_close)(void* ctx, uint64_t conn);

  /* Sets this plugin's part of every heartbeat this node sends: a JSON value of at most
     8 KiB (empty clears it). Other members see it in peers_json under
     "plugins": {"<plugin id>": value} within one heartbeat interval (5 s). */
  int32_t (*heartbeat_set)(void* ctx, mesh_str json);

  /* ---- ABI 1.3. Check MESH_HAS_FIELD(host, mesh_host, job_cancel) before use. ----
     Pattern routes need no new function: a path given to http_route2 may contain whole
     segments "{name}" (one non-empty segment) and end in "{name...}" (one or more segments);
     such a route matches exactly, not as a prefix. A literal segment beats a capture, a
     capture beats a tail, then the longer path wins. Two routes of one method whose paths have
     the same shape (or the same literal path) conflict: MESH_E_EXISTS names the owner.
     peer_connect also takes an empty host_port with a peer_id: the host then dials the
     member's known addresses itself (the last one that worked first). */

  /* Copies the directory holding the node's bare mirrors (<root>/repos, absolute). It may not
     exist yet. Copy semantics as config_json. */
  int32_t (*repos_dir)(void* ctx, char* buf, size_t cap, size_t* needed);
  /* Sets this plugin's section of `mesh status` and of the node page (see mesh_status). Each
     call replaces the previous one; NULL or all parts empty clears it. */
  int32_t (*status_set)(void* ctx, const mesh_status* status);

  /* Renders a mustache template (HTML-escaped by default; {{{x}}} is raw) with a JSON object
     as its context into out. The context also holds "mesh": {"csrf", "node", "id", "version"}.
     Templates are at most 256 KiB, the context at most 4 MiB, the output at most 16 MiB. */
  int32_t (*ui_render)(void* ctx, mesh_str tmpl, mesh_str context_json, mesh_write_fn out,
                       void* out_user, char* err, size_t err_cap);
  /* Answers an HTTP call (like http_respond) with a page in the node's layout. */
  int32_t (*ui_respond)(void* ctx, uint64_t call_id, const mesh_ui_page* page);
  /* Serves data at /assets/<plugin id>/<name> to loopback clients, with an ETag and
     revalidation. name: [a-z0-9][a-z0-9._-]{0,63}; data at most 4 MiB; registering a name
     again replaces it. */
  int32_t (*ui_asset)(void* ctx, mesh_str name, mesh_str content_type, mesh_str data);
  /* Adds a navigation entry: scope "node" (the header) or "repo" (the tabs of every repo
     page). href is a path, in which "{repo}" is replaced by the (escaped) repo name. */
  int32_t (*ui_nav)(void* ctx, mesh_str scope, mesh_str label, mesh_str href);
  /* GitHub-flavoured markdown (tables, task lists, strikethrough, autolinks) to HTML. Raw HTML
     is dropped and unsafe link schemes (javascript:, vbscript:, file:, data: except images)
     are removed. Relative links are resolved against link_base and relative images against
     image_base (both may be empty). Input at most 1 MiB. */
  int32_t (*markdown_render)(void* ctx, mesh_str markdown, mesh_str link_base, mesh_str image_base,
                             mesh_write_fn out, void* out_user);
  /* Sends a server-sent event to every open /events stream that follows `channel`
     ([a-z0-9][a-z0-9._/-]{0,127}, e.g. "ci/my-app"); event name as channel grammar, data at
     most 64 KiB of text (newlines are split into data: lines). Browsers open
     /events?ch=<channel>&ch=... Nothing is stored: a stream that is not open misses it. */
  int32_t (*sse_publish)(void* ctx, mesh_str channel, mesh_str event, mesh_str data);

  /* Runners. Registers a runner of this plugin; MESH_E_EXISTS if the name is taken on this
     node. Its jobs are cancelled when it is unregistered or the plugin stops. */
  int32_t (*runner_register)(void* ctx, const mesh_runner* runner, char* err, size_t err_cap);
  int32_t (*runner_unregister)(void* ctx, mesh_str name);
  /* From a runner's run(): output of a job (any bytes, at most 64 KiB a call). The host masks
     secrets and hands the result to the submitter; MESH_E_NOT_FOUND once the job is done. */
  int32_t (*job_log)(void* ctx, uint64_t job_id, mesh_str data);
  /* Ends a job: outcome MESH_JOB_*, the last command's exit code (or -1), and a short reason
     for anything but MESH_JOB_PASSED. */
  int32_t (*job_done)(void* ctx, uint64_t job_id, uint32_t outcome, int32_t exit_code,
                      mesh_str reason);

  /* Orchestrators. The runners on this node as a JSON array:
     [{"name","plugin","modes":[..],"labels":[..],"slots","free"}]. Copy semantics as
     config_json. */
  int32_t (*runners_json)(void* ctx, char* buf, size_t cap, size_t* needed);
  /* Hands a job to the named runner of this node, on a job thread of its own. MESH_E_NOT_FOUND
     for an unknown runner, MESH_E_LIMIT when it has no free slot, MESH_E_INVALID when it does
     not run job->mode. *job_id receives the host's id; sink is copied. */
  int32_t (*job_submit)(void* ctx, mesh_str runner, const mesh_job* job, const mesh_job_sink* sink,
                        uint64_t* job_id, char* err, size_t err_cap);
  /* Cancels a job this plugin submitted; the sink's done follows (MESH_JOB_CANCELLED unless it
     had already ended). */
  int32_t (*job_cancel)(void* ctx, uint64_t job_id);
  /* Later minors append here. */
} mesh_host;

typedef struct mesh_plugin_descriptor {
  uint32_t struct_size;
  uint32_t abi_major;  /* MESH_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor;  /* MESH_ABI_MINOR the plugin was built with */
  const char* id;      /* static, NUL-terminated; must equal the manifest's id */
  const char* version; /* static, NUL-terminated */
  /* Makes an instance. The host table stays valid until destroy(). */
  int32_t (*create)(const mesh_host* host, void** instance, char* err, size_t err_cap);
  int32_t (*start)(void* instance, char* err, size_t err_cap);
  void (*stop)(void* instance);
  void (*destroy)(void* instance);
  /* ABI 1.3, optional (NULL, or not covered by struct_size: the plugin checks nothing). Checks
     the plugin's settings, its [plugins.<id>] table as a JSON object of len bytes (not
     NUL-terminated), before the host applies them: before create() at load, and before anything
     changes on `mesh reload`. A pure check: it must not touch any instance (it may run while
     one runs, or while none exists), must return promptly and may run on any host thread.
     MESH_OK accepts; anything else refuses, with a message in err that starts with the
     setting's name, e.g. "max_push_bytes: must be positive", so the host can point at that
     key's line in mesh.toml. */
  int32_t (*check_config)(const char* json, size_t len, char* err, size_t err_cap);
} mesh_plugin_descriptor;

typedef const mesh_plugin_descriptor* (*mesh_plugin_entry_fn)(uint32_t host_abi_major,
                                                              uint32_t host_abi_minor);

#define MESH_PLUGIN_ENTRY_SYMBOL "mesh_plugin_entry"

/* Every plugin defines exactly this function. */
MESH_PLUGIN_EXPORT const mesh_plugin_descriptor* mesh_plugin_entry(uint32_t host_abi_major,
                                                                   uint32_t host_abi_minor);

#ifdef __cplusplus
}
#endif

#endif /* MESH_PLUGIN_H */
