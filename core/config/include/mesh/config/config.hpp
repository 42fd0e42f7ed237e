// mesh.toml -> typed, validated structs. Every error names the file and line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/base/result.hpp"

namespace mesh::config {

// Limits on the file itself.
inline constexpr std::size_t kMaxConfigBytes = 1 << 20;

struct NodeConfig {
  std::string name;  // shown to teammates; defaults to the user name at init
};

struct HttpConfig {
  std::string listen = "0.0.0.0:7979";  // HOST:PORT; port 0 picks a free port
  bool trust_loopback = true;
  // Addresses teammates should dial (NAT, port forwarding); empty: derived from the
  // interfaces and the bound port.
  std::vector<std::string> advertise;  // plain HTTP / cert-less TLS from loopback allowed
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1 << 20;      // default per-route body limit
  std::uint32_t header_timeout_ms = 10'000;  // time to receive a request's headers
  std::uint32_t body_timeout_ms = 60'000;    // time to receive a request's body
  std::uint32_t idle_timeout_ms = 60'000;    // keep-alive idle time
  std::uint32_t max_connections = 512;
};

struct LogConfig {
  std::string level = "info";  // trace|debug|info|warn|error
  std::size_t max_file_bytes = 10 * 1024 * 1024;
  std::uint32_t max_files = 5;
};

struct PluginsConfig {
  // Plugin ids, in load order. Replication is the product's core promise: on unless a config
  // says otherwise.
  std::vector<std::string> enabled{"replication"};
  std::vector<std::string> paths;  // extra directories searched first
  // Threads of each plugin's own executor (its callbacks run there and nowhere else): 1..16.
  std::uint32_t executor_threads = 2;
  // How long `mesh reload` waits for one plugin's stop() before it reports the plugin as still
  // stopping and answers: 100 ms .. 10 min.
  std::uint32_t stop_timeout_ms = 35'000;
  std::map<std::string, std::string> settings;  // id -> its [plugins.<id>] table as JSON
  // Where each plugin setting is, for messages that point at it: id -> key path ("limit",
  // "retry.max") -> line; the path "" is the line of the [plugins.<id>] table itself.
  std::map<std::string, std::map<std::string, std::uint32_t>> setting_lines;
  std::string source;  // the file those lines are in, as parse() was told

  // "<source>:<line>: [plugins.<id>] <message>", with the line of the setting `message` starts
  // with ("limit: must be positive"), else of the plugin's table, else without a line.
  std::string locate(const std::string& id, const std::string& message) const;
};

// LAN discovery beacons (hints only; see docs/protocol.md "Beacon").
struct DiscoveryConfig {
  bool enabled = true;
  std::uint16_t port = 7978;
  std::uint32_t interval_ms = 30'000;
  std::vector<std::string> targets;  // empty: broadcast + IPv4/IPv6 multicast groups
  std::string multicast_if;          // IPv4 interface address for multicast; empty: all
};

// [runner]: this node's say in running jobs on its runners (docs/ci.md "Runner policy"). The
// plugin host enforces it on every job_submit, whoever the orchestrator is.
struct RunnerConfig {
  // Off by default: a shell runner runs a teammate's code as this user on this machine, so a
  // fresh node runs nobody's jobs (its own pushes' included) until its user opts in.
  bool enabled = false;
  std::vector<std::string> modes;         // allowed job modes; empty: every mode the runners offer
  std::vector<std::string> labels;        // added to every local runner's labels
  std::uint32_t max_concurrent_jobs = 2;  // jobs at once on this node, all runners: 1..64
  std::vector<std::string> env_passthrough;   // daemon variables every job also gets
  std::uint64_t job_log_max_bytes = 4 << 20;  // output kept per job: 64 KiB .. 64 MiB
};

// [gossip]: what one member may make this node store or do through gossip (docs/security.md
// "A member is trusted, not unlimited"). Per origin: stored events (a token bucket: the rate per
// minute, at most `event_burst` saved up) and their bytes per day, live events per minute; per
// linked peer: sync requests (version vectors, wants) per minute.
struct GossipConfig {
  std::uint32_t max_events_per_minute = 1200;                       // 1 .. 1,000,000
  std::uint32_t event_burst = 10'000;                               // 1 .. 10,000,000
  std::uint64_t max_feed_bytes_per_day = std::uint64_t{512} << 20;  // 1 MiB .. 1 TiB
  std::uint32_t max_live_per_minute = 1800;                         // 1 .. 1,000,000
  std::uint32_t max_sync_per_minute = 60;                           // 1 .. 100,000
};

struct Config {
  NodeConfig node;
  HttpConfig http;
  LogConfig log;
  DiscoveryConfig discovery;
  PluginsConfig plugins;
  RunnerConfig runner;
  GossipConfig gossip;
};

// Parses and validates. `source` names the file in messages: "<source>:<line>: <what>".
Result<Config> parse(std::string_view text, std::string_view source);
// Reads the file (size-limited) and parses it.
Result<Config> load(const std::filesystem::path& file);

// The commented default mesh.toml (config/mesh.toml in the source tree) with the node name set.
// The name is made valid first (control characters -> space, invalid UTF-8 -> U+FFFD, cut at
// 128 bytes, empty -> "node"), so the result always parses; check_node_name() it to refuse instead.
std::string default_toml(std::string_view node_name);

// Node names: 1..128 bytes, no control characters (what [node] name accepts). For `init --name`.
Status check_node_name(std::string_view name);

// Splits "host:port" / "[v6]:port"; validates the port.
struct HostPort {
  std::string host;  // without the brackets of "[v6]:port"
  std::uint16_t port = 0;
};
Result<HostPort> parse_host_port(std::string_view text);

// Plugin ids: [a-z0-9][a-z0-9-]{0,63}.
bool valid_plugin_id(std::string_view id);

}  // namespace mesh::config
