// The functions of the host table (mesh_host), by service area. Each takes the Runtime as its
// ctx and runs behind guarded(): nothing throws across the ABI. host_table.cpp puts them into
// the table. Internal to the plugin module.
#pragma once

#include "mesh/plugin.h"

namespace mesh::plugin::host {

// host_misc.cpp: log, settings, data directory, timers, heartbeat.
void log(void* ctx, uint32_t level, mesh_str message);
int32_t config_json(void* ctx, char* buf, size_t cap, size_t* needed);
int32_t data_dir(void* ctx, char* buf, size_t cap, size_t* needed);
int32_t timer_start(void* ctx, uint64_t interval_ms, uint32_t repeat, mesh_timer_fn fn, void* user,
                    uint64_t* timer_id);
int32_t timer_cancel(void* ctx, uint64_t timer_id);
int32_t heartbeat_set(void* ctx, mesh_str json);

// host_http.cpp: routes, answers and streamed calls.
int32_t http_route(void* ctx, mesh_str method, mesh_str path, uint64_t max_body,
                   mesh_http_handler handler, void* user, char* err, size_t err_cap);
int32_t http_route2(void* ctx, mesh_str method, mesh_str path, uint64_t max_body, uint32_t flags,
                    mesh_http_handler handler, void* user, char* err, size_t err_cap);
int32_t http_respond(void* ctx, uint64_t call_id, const mesh_http_response* r);
int32_t http_read(void* ctx, uint64_t call_id, char* buf, size_t cap, size_t* got);
int32_t http_begin(void* ctx, uint64_t call_id, uint32_t status, const mesh_http_header* headers,
                   size_t header_count);
int32_t http_write(void* ctx, uint64_t call_id, mesh_str data);
int32_t http_end(void* ctx, uint64_t call_id, uint32_t ok);

// host_cli.cpp: verbs and their answers.
int32_t cli_verb(void* ctx, mesh_str verb, mesh_str summary, mesh_cli_handler handler, void* user,
                 char* err, size_t err_cap);
int32_t cli_respond(void* ctx, uint64_t call_id, int32_t exit_code, mesh_str output);
int32_t cli_chunk(void* ctx, uint64_t call_id, mesh_str text);

// host_events.cpp: the event bus and who is on it.
int32_t publish(void* ctx, mesh_str topic, mesh_str payload, uint64_t* seq_out, char* err,
                size_t err_cap);
int32_t subscribe(void* ctx, mesh_str name, mesh_str pattern, mesh_event_handler handler,
                  void* user, char* err, size_t err_cap);
int32_t unsubscribe(void* ctx, mesh_str name);
int32_t peers_json(void* ctx, char* buf, size_t cap, size_t* needed);
int32_t self_json(void* ctx, char* buf, size_t cap, size_t* needed);

// host_peer.cpp: connections to other members.
int32_t peer_connect(void* ctx, mesh_str host_port, mesh_str peer_id, uint32_t timeout_ms,
                     uint64_t* conn, char* err, size_t err_cap);
int32_t peer_read(void* ctx, uint64_t conn, char* buf, size_t cap, size_t* got);
int32_t peer_write(void* ctx, uint64_t conn, mesh_str data);
int32_t peer_close(void* ctx, uint64_t conn);

// host_core.cpp (ABI 1.3): core services.
int32_t repos_dir(void* ctx, char* buf, size_t cap, size_t* needed);
int32_t status_set(void* ctx, const mesh_status* status);

// host_ui.cpp (ABI 1.3): the web layer, onto web::Site (docs/web.md).
int32_t ui_render(void* ctx, mesh_str tmpl, mesh_str context_json, mesh_write_fn out,
                  void* out_user, char* err, size_t err_cap);
int32_t ui_respond(void* ctx, uint64_t call_id, const mesh_ui_page* page);
int32_t ui_asset(void* ctx, mesh_str name, mesh_str content_type, mesh_str data);
int32_t ui_nav(void* ctx, mesh_str scope, mesh_str label, mesh_str href);
int32_t markdown_render(void* ctx, mesh_str markdown, mesh_str link_base, mesh_str image_base,
                        mesh_write_fn out, void* out_user);
int32_t sse_publish(void* ctx, mesh_str channel, mesh_str event, mesh_str data);

// host_jobs.cpp (ABI 1.3): the runner registry, onto jobs::Registry.
int32_t runner_register(void* ctx, const mesh_runner* runner, char* err, size_t err_cap);
int32_t runner_unregister(void* ctx, mesh_str name);
int32_t job_log(void* ctx, uint64_t job_id, mesh_str data);
int32_t job_done(void* ctx, uint64_t job_id, uint32_t outcome, int32_t exit_code, mesh_str reason);
int32_t runners_json(void* ctx, char* buf, size_t cap, size_t* needed);
int32_t job_submit(void* ctx, mesh_str runner, const mesh_job* job, const mesh_job_sink* sink,
                   uint64_t* job_id, char* err, size_t err_cap);
int32_t job_cancel(void* ctx, uint64_t job_id);

}  // namespace mesh::plugin::host
