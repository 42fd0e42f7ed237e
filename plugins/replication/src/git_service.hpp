// The server side of git's smart HTTP protocol for the mirrors, independent of the daemon: it
// spawns `git upload-pack|receive-pack --stateless-rpc` per request and streams both bodies
// through an HttpIo, which the plugin glue adapts to the daemon's streamed HTTP calls.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "names.hpp"
#include "smart_http.hpp"

namespace mesh::repl {

class RepoLocks;

// One streamed HTTP exchange. Every call blocks; 0 = ok, negative = failure (the client went
// away or timed out: the implementation bounds every call with its own timeout). read() runs
// on a thread of the service's own while begin/write/end run on the serve() thread, so the
// read side and the write side must be usable concurrently (one caller each).
struct HttpIo {
  virtual ~HttpIo() = default;
  // The de-chunked request body, as sent (a gzip body stays gzip). *got == 0: end of body.
  virtual int read(char* buf, std::size_t cap, std::size_t* got) = 0;
  // Status line and headers; a chunked body follows.
  virtual int begin(unsigned status,
                    const std::vector<std::pair<std::string, std::string>>& headers) = 0;
  // One chunk.
  virtual int write(std::string_view data) = 0;
  // ok=false aborts: the connection is closed and the client sees a truncated response.
  virtual int end(bool ok) = 0;
  // A whole response instead of begin/write/end.
  virtual int respond(unsigned status, std::string_view content_type, std::string_view body) = 0;
};

// Hex oids; 40 '0' stand for "absent" (create: old is zero; delete: new is zero).
struct RefUpdate {
  std::string ref, old_oid, new_oid;
  bool operator==(const RefUpdate&) const = default;
};

// Called after a receive-pack that changed refs, once git has exited successfully, if the client
// negotiated side-band(-64k) (sniffed from the capabilities after the NUL in the first pkt-line
// of the request body). A non-empty return value reaches the pusher as a "remote:" line: one
// sideband channel 2 packet (cut to 65515 bytes, or 995 for side-band) inserted before git's
// final flush. That flush is found without parsing git's output: while a hook is set, the last
// 4 bytes of git's stdout are held back (everything before them streams as it arrives); after
// git exited 0 they are written after the message if they are "0000", else as they were. Not
// called without a sideband (use ServeResult::updates). It may block (e.g. wait for
// replication); the repo lock and the process slot are released by then.
using AfterReceive = std::function<std::string(const std::vector<RefUpdate>&)>;

struct GitServiceOptions {
  std::filesystem::path repos_dir;  // mirrors at <repos_dir>/<name>.git
  std::string git = "git";          // a name looked up on PATH, or a path
  unsigned max_processes = 8;       // concurrent git children
  // Requests beyond max_processes wait (at most max_waiting of them, each at most slot_wait)
  // for a slot; after that they get 503 with Retry-After.
  unsigned max_waiting = 64;
  std::chrono::milliseconds slot_wait{30'000};
  std::uint64_t max_request_bytes = std::uint64_t{2} << 30;  // decompressed body cap
  // Kill git when neither its stdin nor its stdout moved for this long (0: never).
  std::chrono::seconds idle_timeout{600};
  // Kill git after this long in any case (0: never).
  std::chrono::seconds max_duration{4 * 3600};
  // Between SIGTERM and SIGKILL.
  std::chrono::milliseconds kill_grace{2000};
  unsigned retry_after_seconds = 5;  // the Retry-After of a 503
  AfterReceive after_receive;        // default for requests without their own
  // Per-repo locks shared with whoever else moves refs in the mirrors (the replicator);
  // the service makes its own when none is given.
  std::shared_ptr<RepoLocks> repo_locks;
};

// Called after a receive-pack that changed refs, with the repo lock still held (nothing else
// moves the repo's refs meanwhile): where the push is recorded before anyone can see it.
using OnReceived = std::function<void(const std::vector<RefUpdate>&)>;

struct GitRequest {
  ParsedGitPath path;  // from parse_git_path
  std::string method;  // "GET" for info/refs, "POST" for the services
  std::string query;   // without '?': "service=git-upload-pack"
  // The request headers (names case-insensitive). Read: Content-Type, Content-Encoding
  // ("", "identity", "gzip", "x-gzip"), Git-Protocol (e.g. "version=2") and Content-Length.
  std::vector<std::pair<std::string, std::string>> headers;
  AfterReceive after_receive;  // overrides GitServiceOptions::after_receive when set
  OnReceived on_received;
  // A user's own git client (loopback), not a member: parked tips (refs/mesh/) are not
  // advertised to it, only fetchable by their oid.
  bool local_client = true;
  // Non-empty: the repo may not be served or created (it was removed); the client gets 410
  // with this text.
  std::string refusal;
  // For a fetch: lines for the user ("remote: ..."), sent before upload-pack's final flush when
  // the pack went out on a sideband.
  std::string fetch_notice;
};

struct ServeResult {
  // The status sent (200 also when a streamed response was aborted midway: see log); 0 when
  // the client went away before anything was sent.
  unsigned status = 0;
  // receive-pack only: every ref that changed in the mirror while the push ran, by name.
  // Computed from snapshots of all refs, so it is right even when git failed midway.
  std::vector<RefUpdate> updates;
  bool created = false;  // this request created the mirror (a first push that changed refs)
  // receive-pack: ref commands arrived, git exited normally, and no ref changed (git refused
  // them all; the client's report says why).
  bool refused = false;
  std::string log;  // one line for the daemon's log
};

// How much of a push over max_request_bytes is read and dropped so that the client sees the
// reason (git reads no answer before it sent its whole body): as much again, at least 1 GiB.
// The route's body cap must leave room for it.
inline std::uint64_t oversize_drain_bytes(std::uint64_t max_request_bytes) {
  return std::max<std::uint64_t>(max_request_bytes, std::uint64_t{1} << 30);
}

class GitService {
 public:
  explicit GitService(GitServiceOptions options);
  ~GitService();
  GitService(const GitService&) = delete;
  GitService& operator=(const GitService&) = delete;

  // Serves one request on the calling (worker) thread, start to finish: exactly one of
  // io.respond(), io.begin()..io.end(), or io.end(false) when the client is gone. Never throws.
  ServeResult serve(const GitRequest& request, HttpIo& io);

  // Git children running or about to run (the slots taken).
  unsigned active() const;

  const GitServiceOptions& options() const { return options_; }

  struct State;  // opaque (git_service.cpp)

 private:
  GitServiceOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace mesh::repl
