// What the updater plugin's parts share (SDK side): settings, this node, the files in its data
// directory, and helpers over the host. plugin.cpp owns it; plugin_update.cpp (the `update`
// verb) and plugin_serve.cpp (the member routes) use it.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "archive_store.hpp"
#include "mesh/plugin.hpp"
#include "semver.hpp"
#include "settings.hpp"
#include "source.hpp"
#include "state.hpp"

namespace mesh::updater {

struct SelfInfo {
  std::string name;
  std::string id;
  std::string version;
  std::string listen;  // the bound host:port (self_json "listen")
  std::string root;
  std::filesystem::path exe;  // the running binary, resolved
};

// A member as peers_json shows it, with what its updater put in its heartbeat.
struct PeerInfo {
  std::string name;
  std::string id;
  bool up = false;
  std::vector<std::string> addresses;
  std::string version;              // heartbeat plugins.updater.version
  std::vector<std::string> serves;  // heartbeat plugins.updater.serves
};

struct PluginContext {
  sdk::Host host;
  Settings settings;
  SelfInfo self;
  SemVer running;
  std::filesystem::path data;
  std::unique_ptr<ArchiveStore> store;
  std::atomic<bool> cancel{false};

  std::filesystem::path file(std::string_view name) const { return data / name; }
  FetchLimits limits() const;
  std::vector<PeerInfo> peers() const;
  // A member by name, id or unique id prefix; the error says which exist.
  Result<PeerInfo> find_peer(const std::string& who) const;
  // A release source on that member, over host peer connections pinned to its id.
  std::unique_ptr<ReleaseSource> peer_source(const PeerInfo& peer) const;
  // This node's heartbeat part: {"version","arch","serves":[...]}.
  std::string heartbeat_json() const;
};

// The member routes (GET /updater/v1/releases, /updater/v1/files/<name>), served from a few
// threads of their own; stop() ends and joins them.
class PeerServer {
 public:
  explicit PeerServer(PluginContext& ctx) : ctx_(ctx) {}
  ~PeerServer() { stop(); }
  void handle(const sdk::HttpRequest& req, sdk::HttpStream stream);
  void stop();

 private:
  void serve(std::string path, std::string range, sdk::HttpStream stream);
  PluginContext& ctx_;
  std::mutex mu_;
  std::vector<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>> workers_;
  bool stopped_ = false;
};

}  // namespace mesh::updater
