// Fills a plugin's mesh_host: every function the host offers, by ABI minor. A service this
// daemon runs without answers MESH_E_UNSUPPORTED.
#include "host_api.hpp"
#include "runtime.hpp"

namespace mesh::plugin {

void Runtime::init_host_table() {
  host = mesh_host{};
  host.struct_size = sizeof(mesh_host);
  host.abi_major = MESH_ABI_MAJOR;
  host.abi_minor = MESH_ABI_MINOR;
  host.ctx = this;
  // 1.0
  host.log = &host::log;
  host.config_json = &host::config_json;
  host.data_dir = &host::data_dir;
  host.http_route = &host::http_route;
  host.http_respond = &host::http_respond;
  host.cli_verb = &host::cli_verb;
  host.cli_respond = &host::cli_respond;
  host.timer_start = &host::timer_start;
  host.timer_cancel = &host::timer_cancel;
  host.cli_chunk = &host::cli_chunk;
  // 1.1
  host.publish = &host::publish;
  host.subscribe = &host::subscribe;
  host.unsubscribe = &host::unsubscribe;
  host.peers_json = &host::peers_json;
  host.self_json = &host::self_json;
  // 1.2
  host.http_route2 = &host::http_route2;
  host.http_read = &host::http_read;
  host.http_begin = &host::http_begin;
  host.http_write = &host::http_write;
  host.http_end = &host::http_end;
  host.peer_connect = &host::peer_connect;
  host.peer_read = &host::peer_read;
  host.peer_write = &host::peer_write;
  host.peer_close = &host::peer_close;
  host.heartbeat_set = &host::heartbeat_set;
  // 1.3: core services, the web layer and the runner registry. Always filled: a daemon
  // without a web layer or registry (unit tests) answers MESH_E_UNSUPPORTED from them.
  host.repos_dir = &host::repos_dir;
  host.status_set = &host::status_set;
  host.ui_render = &host::ui_render;
  host.ui_respond = &host::ui_respond;
  host.ui_asset = &host::ui_asset;
  host.ui_nav = &host::ui_nav;
  host.markdown_render = &host::markdown_render;
  host.sse_publish = &host::sse_publish;
  host.runner_register = &host::runner_register;
  host.runner_unregister = &host::runner_unregister;
  host.job_log = &host::job_log;
  host.job_done = &host::job_done;
  host.runners_json = &host::runners_json;
  host.job_submit = &host::job_submit;
  host.job_cancel = &host::job_cancel;
}

}  // namespace mesh::plugin
