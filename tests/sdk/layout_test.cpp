// Pins the ABI 1.3 struct layouts (x86_64, LP64): an accidental change to mesh/plugin.h fails
// the build here. Growing a struct at its end is allowed: update the size, never an offset.
#include <cstddef>
#include <type_traits>

#include "mesh/plugin.h"

#if defined(__x86_64__) && defined(__LP64__)
#define PIN(type, field, off) static_assert(offsetof(type, field) == (off), #type "." #field)

static_assert(sizeof(mesh_str) == 16);
PIN(mesh_str, ptr, 0);
PIN(mesh_str, len, 8);

static_assert(sizeof(mesh_http_header) == 32);
PIN(mesh_http_header, name, 0);
PIN(mesh_http_header, value, 16);

static_assert(sizeof(mesh_http_request) == 152);
PIN(mesh_http_request, struct_size, 0);
PIN(mesh_http_request, client_kind, 4);
PIN(mesh_http_request, call_id, 8);
PIN(mesh_http_request, method, 16);
PIN(mesh_http_request, path, 32);
PIN(mesh_http_request, query, 48);
PIN(mesh_http_request, headers, 64);
PIN(mesh_http_request, header_count, 72);
PIN(mesh_http_request, body, 80);
PIN(mesh_http_request, peer_id, 96);
PIN(mesh_http_request, remote, 112);
PIN(mesh_http_request, tls, 128);
// 1.3 appended the pattern-route captures.
PIN(mesh_http_request, params, 136);
PIN(mesh_http_request, param_count, 144);

static_assert(sizeof(mesh_http_response) == 40);
PIN(mesh_http_response, struct_size, 0);
PIN(mesh_http_response, status, 4);
PIN(mesh_http_response, headers, 8);
PIN(mesh_http_response, header_count, 16);
PIN(mesh_http_response, body, 24);

static_assert(sizeof(mesh_cli_request) == 32);
PIN(mesh_cli_request, struct_size, 0);
PIN(mesh_cli_request, json, 4);
PIN(mesh_cli_request, call_id, 8);
PIN(mesh_cli_request, argv, 16);
PIN(mesh_cli_request, argc, 24);

static_assert(sizeof(mesh_event) == 80);
PIN(mesh_event, struct_size, 0);
PIN(mesh_event, flags, 4);
PIN(mesh_event, origin, 8);
PIN(mesh_event, seq, 24);
PIN(mesh_event, lamport, 32);
PIN(mesh_event, wall_ms, 40);
PIN(mesh_event, topic, 48);
PIN(mesh_event, payload, 64);

// 1.0 ended after cli_chunk (104 bytes); 1.1 appended the event functions (144 bytes); 1.2
// appended streamed HTTP, peer connections and heartbeat_set (224 bytes); 1.3 appended core
// services, the web layer and the runner registry.
static_assert(sizeof(mesh_host) == 344);
PIN(mesh_host, struct_size, 0);
PIN(mesh_host, abi_major, 4);
PIN(mesh_host, abi_minor, 8);
PIN(mesh_host, ctx, 16);
PIN(mesh_host, log, 24);
PIN(mesh_host, config_json, 32);
PIN(mesh_host, data_dir, 40);
PIN(mesh_host, http_route, 48);
PIN(mesh_host, http_respond, 56);
PIN(mesh_host, cli_verb, 64);
PIN(mesh_host, cli_respond, 72);
PIN(mesh_host, timer_start, 80);
PIN(mesh_host, timer_cancel, 88);
PIN(mesh_host, cli_chunk, 96);
PIN(mesh_host, publish, 104);
PIN(mesh_host, subscribe, 112);
PIN(mesh_host, unsubscribe, 120);
PIN(mesh_host, peers_json, 128);
PIN(mesh_host, self_json, 136);
PIN(mesh_host, http_route2, 144);
PIN(mesh_host, http_read, 152);
PIN(mesh_host, http_begin, 160);
PIN(mesh_host, http_write, 168);
PIN(mesh_host, http_end, 176);
PIN(mesh_host, peer_connect, 184);
PIN(mesh_host, peer_read, 192);
PIN(mesh_host, peer_write, 200);
PIN(mesh_host, peer_close, 208);
PIN(mesh_host, heartbeat_set, 216);
PIN(mesh_host, repos_dir, 224);
PIN(mesh_host, status_set, 232);
PIN(mesh_host, ui_render, 240);
PIN(mesh_host, ui_respond, 248);
PIN(mesh_host, ui_asset, 256);
PIN(mesh_host, ui_nav, 264);
PIN(mesh_host, markdown_render, 272);
PIN(mesh_host, sse_publish, 280);
PIN(mesh_host, runner_register, 288);
PIN(mesh_host, runner_unregister, 296);
PIN(mesh_host, job_log, 304);
PIN(mesh_host, job_done, 312);
PIN(mesh_host, runners_json, 320);
PIN(mesh_host, job_submit, 328);
PIN(mesh_host, job_cancel, 336);

static_assert(sizeof(mesh_status) == 56);
PIN(mesh_status, struct_size, 0);
PIN(mesh_status, json, 8);
PIN(mesh_status, text, 24);
PIN(mesh_status, html, 40);

static_assert(sizeof(mesh_ui_page) == 88);
PIN(mesh_ui_page, struct_size, 0);
PIN(mesh_ui_page, status, 4);
PIN(mesh_ui_page, title, 8);
PIN(mesh_ui_page, repo, 24);
PIN(mesh_ui_page, tab, 40);
PIN(mesh_ui_page, body_html, 56);
PIN(mesh_ui_page, scripts, 72);

static_assert(sizeof(mesh_kv) == 32);
PIN(mesh_kv, name, 0);
PIN(mesh_kv, value, 16);

static_assert(sizeof(mesh_job) == 184);
PIN(mesh_job, struct_size, 0);
PIN(mesh_job, flags, 4);
PIN(mesh_job, job_id, 8);
PIN(mesh_job, run_id, 16);
PIN(mesh_job, job_name, 32);
PIN(mesh_job, repo, 48);
PIN(mesh_job, sha, 64);
PIN(mesh_job, mode, 80);
PIN(mesh_job, image, 96);
PIN(mesh_job, workdir, 112);
PIN(mesh_job, commands, 128);
PIN(mesh_job, command_count, 136);
PIN(mesh_job, env, 144);
PIN(mesh_job, env_count, 152);
PIN(mesh_job, secrets, 160);
PIN(mesh_job, secret_count, 168);
PIN(mesh_job, timeout_ms, 176);

static_assert(sizeof(mesh_runner) == 88);
PIN(mesh_runner, struct_size, 0);
PIN(mesh_runner, name, 8);
PIN(mesh_runner, modes, 24);
PIN(mesh_runner, mode_count, 32);
PIN(mesh_runner, labels, 40);
PIN(mesh_runner, label_count, 48);
PIN(mesh_runner, slots, 56);
PIN(mesh_runner, run, 64);
PIN(mesh_runner, cancel, 72);
PIN(mesh_runner, user, 80);

static_assert(sizeof(mesh_job_sink) == 32);
PIN(mesh_job_sink, struct_size, 0);
PIN(mesh_job_sink, log, 8);
PIN(mesh_job_sink, done, 16);
PIN(mesh_job_sink, user, 24);

// 1.3 appended check_config (the 1.0 descriptor was 64 bytes).
static_assert(sizeof(mesh_plugin_descriptor) == 72);
PIN(mesh_plugin_descriptor, struct_size, 0);
PIN(mesh_plugin_descriptor, abi_major, 4);
PIN(mesh_plugin_descriptor, abi_minor, 8);
PIN(mesh_plugin_descriptor, id, 16);
PIN(mesh_plugin_descriptor, version, 24);
PIN(mesh_plugin_descriptor, create, 32);
PIN(mesh_plugin_descriptor, start, 40);
PIN(mesh_plugin_descriptor, stop, 48);
PIN(mesh_plugin_descriptor, destroy, 56);
PIN(mesh_plugin_descriptor, check_config, 64);
#endif

// Fixed-width status codes and levels, never C enums.
static_assert(std::is_same_v<decltype(mesh_http_request::client_kind), uint32_t>);
static_assert(MESH_OK == 0 && MESH_E_INTERNAL == -7);
static_assert(MESH_ABI_MAJOR == 1 && MESH_ABI_MINOR == 3);
static_assert(MESH_JOB_PASSED == 0u && MESH_JOB_ERROR == 4u);
static_assert(MESH_ROUTE_STREAM == 1u && MESH_ROUTE_LOCAL == 2u);
static_assert(std::is_same_v<decltype(mesh_event::flags), uint32_t>);
static_assert(std::is_standard_layout_v<mesh_event> && std::is_trivial_v<mesh_event>);
static_assert(std::is_standard_layout_v<mesh_host> && std::is_trivial_v<mesh_host>);
static_assert(std::is_standard_layout_v<mesh_http_request> && std::is_trivial_v<mesh_http_request>);
static_assert(std::is_standard_layout_v<mesh_job> && std::is_trivial_v<mesh_job>);
static_assert(std::is_standard_layout_v<mesh_runner> && std::is_trivial_v<mesh_runner>);

int main() {
  return 0;
}
