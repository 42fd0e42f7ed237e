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
  std::vector<std::string> paths;               // extra directories searched first
  std::map<std::string, std::string> settings;  // id -> its [plugins.<id>] table as JSON
};

// LAN discovery beacons (hints only; see docs/protocol.md "Beacon").
struct DiscoveryConfig {
  bool enabled = true;
  std::uint16_t port = 7978;
  std::uint32_t interval_ms = 30'000;
  std::vector<std::string> targets;  // empty: broadcast + IPv4/IPv6 multicast groups
  std::string multicast_if;          // IPv4 interface address for multicast; empty: all
};

struct Config {
  NodeConfig node;
  HttpConfig http;
  LogConfig log;
  DiscoveryConfig discovery;
  PluginsConfig plugins;
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
