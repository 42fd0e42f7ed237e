/* FROZEN COPY of mesh/plugin.h as released with ABI 1.0, used to build tests/plugins/legacy10.c
   exactly as an old plugin was built. Never edit it. */
/*
 * mesh/plugin.h — the stable C ABI between the mesh daemon and its plugins.
 *
 * ABI 1.0. Pure C99, no link dependencies: a plugin links against nothing from the daemon.
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
 *             synchronously. Plugin callbacks (HTTP handlers, CLI verbs, timers) run on the
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
#define MESH_ABI_MINOR 0

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

typedef void (*mesh_http_handler)(void* user, const mesh_http_request* request);
typedef void (*mesh_cli_handler)(void* user, const mesh_cli_request* request);
typedef void (*mesh_timer_fn)(void* user, uint64_t timer_id);

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
  /* ABI 1.1 and later append here. */
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
