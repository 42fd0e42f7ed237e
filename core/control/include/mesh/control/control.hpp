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
// A client must send its request line within this time.
inline constexpr std::chrono::seconds kRequestTimeout{30};
// Concurrent clients per server; more are closed at once.
inline constexpr std::size_t kMaxClients = 256;
// call() refuses a final output larger than this (longer outputs travel as several lines).
inline constexpr std::size_t kMaxOutputBytes = 64 << 20;

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
// output before that (e.g. --follow). Calls after the reply, or after the client went away,
// are ignored. Server-made responders are cheap to copy and safe to keep after the client left.
struct Responder {
  std::function<void(std::string)> chunk;
  std::function<void(Reply)> reply;
  // False once the client has disconnected (a --follow handler can stop then). Hand-made
  // responders (tests) default to always connected.
  std::function<bool()> connected = [] { return true; };
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
  std::vector<VerbInfo> list() const;  // sorted by verb
  // Runs the verb or answers exit 2 "unknown command". A handler that throws gets exit 1.
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
  // Removes a stale socket file, binds, chmods 0600 and starts serving on io. Errc::exists if
  // another process is listening on socket_path. The socket appears at socket_path already
  // 0600 (bound under a temporary name and renamed), so there is no window with wider modes.
  static Result<std::unique_ptr<Server>> start(boost::asio::io_context& io,
                                               const std::filesystem::path& socket_path,
                                               std::shared_ptr<Registry> registry);
  virtual ~Server() = default;
  // Closes the acceptor and the open client connections and removes the socket file (if it
  // is still ours). Safe from any thread; idempotent; the destructor calls it.
  virtual void stop() = 0;
};

// Blocking client for the CLI. on_chunk receives streamed output. Errc::not_found means no
// daemon is listening on that socket.
Result<Reply> call(const std::filesystem::path& socket_path, const Call& call,
                   std::chrono::milliseconds timeout,
                   const std::function<void(const std::string&)>& on_chunk = {});

}  // namespace mesh::control
