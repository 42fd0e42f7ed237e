// The unix control socket (<root>/mesh.sock, mode 0600) between the `mesh` CLI and the daemon.
//
// Wire format: the client sends one JSON object on one line,
//   {"verb":"status","args":["..."],"json":true}
// and the server answers with zero or more chunk lines {"chunk":"text"} (streamed output)
// followed by exactly one final line {"exit":0,"output":"..."}. Lines are capped at 1 MiB.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mesh/base/result.hpp"

namespace boost::asio {
class io_context;
}

namespace mesh::control {

inline constexpr std::size_t kMaxLineBytes = 1 << 20;

struct Call {
  std::string verb;
  std::vector<std::string> args;
  bool json = false;
};

struct Reply {
  int exit_code = 0;   // 0 ok, 1 failure, 2 usage
  std::string output;  // stdout text (or JSON document); stderr text when exit_code != 0
};

// A handler answers through `reply` exactly once (from any thread); `chunk` streams partial
// output before that (e.g. --follow).
struct Responder {
  std::function<void(std::string)> chunk;
  std::function<void(Reply)> reply;
};
using VerbHandler = std::function<void(Call&&, Responder)>;

struct VerbInfo {
  std::string verb;
  std::string summary;
  std::string owner;  // "core" or a plugin id
};

// Thread-safe table of verbs.
class Registry {
 public:
  // False if the verb exists already.
  bool add(VerbInfo info, VerbHandler handler);
  void remove(const std::string& verb);
  void remove_owner(const std::string& owner);
  std::vector<VerbInfo> list() const;
  // Runs the verb or answers exit 2 "unknown command".
  void dispatch(Call&& call, Responder responder) const;

 private:
  struct Entry {
    VerbInfo info;
    VerbHandler handler;
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

class Server {
 public:
  // Removes a stale socket file, binds, chmods 0600 and starts serving on io.
  static Result<std::unique_ptr<Server>> start(boost::asio::io_context& io,
                                               const std::filesystem::path& socket_path,
                                               std::shared_ptr<Registry> registry);
  virtual ~Server() = default;
  virtual void stop() = 0;
};

// Blocking client for the CLI. on_chunk receives streamed output. Errc::not_found means no
// daemon is listening on that socket.
Result<Reply> call(const std::filesystem::path& socket_path, const Call& call,
                   std::chrono::milliseconds timeout,
                   const std::function<void(const std::string&)>& on_chunk = {});

}  // namespace mesh::control
