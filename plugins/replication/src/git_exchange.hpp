// One smart HTTP request, start to finish (private to the service): git_service.cpp checks
// and dispatches it, git_exchange_io.cpp runs git and streams both bodies.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "body_pump.hpp"
#include "git_service.hpp"
#include "http_reply.hpp"
#include "process_slots.hpp"
#include "receive_commands.hpp"
#include "repo_locks.hpp"
#include "sideband.hpp"

namespace mesh::repl {

struct GitService::State {
  explicit State(const GitServiceOptions& o)
      : slots(o.max_processes, o.max_waiting, o.slot_wait),
        locks(o.repo_locks ? o.repo_locks : std::make_shared<RepoLocks>()) {}
  std::string git_path;  // resolved; empty if not found
  std::string path_env;
  ProcessSlots slots;
  std::shared_ptr<RepoLocks> locks;  // receive-packs, one at a time per repo
};

namespace detail {

enum class Service { upload_pack, receive_pack };

inline std::string_view service_name(Service s) {
  return s == Service::upload_pack ? "git-upload-pack" : "git-receive-pack";
}
inline std::string_view subcommand(Service s) {
  return s == Service::upload_pack ? "upload-pack" : "receive-pack";
}

// What happened to one git child.
struct RunOutcome {
  bool client_gone = false;  // a read or write on the HttpIo failed
  bool timed_out = false;
  PumpFailure pump_failure = PumpFailure::none;
  bool exited_ok = false;
  int wait_status = -1;
  std::string stderr_tail;
  std::string held;  // the trailing bytes held back, not yet written
  int sideband = 0;
  bool commands = false;  // receive-pack: the client sent ref commands
  bool report_status = false;
  std::vector<PushCommand> command_list;
  bool pack_on_sideband = false;  // upload-pack: its pack went out on sideband channel 1
  std::uint64_t bytes_in = 0, bytes_out = 0;
};

class Exchange {
 public:
  Exchange(const GitServiceOptions& opt, GitService::State& st, const GitRequest& req, HttpIo& io,
           ServeResult& result)
      : opt_(opt), st_(st), req_(req), io_(io), result_(result), reply_(io, result) {}

  void run();

 private:
  using RefMap = std::map<std::string, std::string>;

  std::string repo_dir() const { return (opt_.repos_dir / (req_.path.repo + ".git")).string(); }
  bool parse_headers();
  bool answer_probe();
  bool ensure_mirror(const std::string& dir, std::string* err);
  void receive(ProcessSlots::Slot& slot);
  std::vector<std::string> child_env() const;
  std::vector<std::string> git_argv(bool advertise) const;
  bool start_response();
  bool emit(std::string_view data);
  RunOutcome run_git(bool advertise, ProcessSlots::Slot& slot);
  void finish(const RunOutcome& out, const AfterReceive* hook);
  // A push over max_request_bytes: the rest of the body is read and dropped, and the client
  // gets receive-pack's own kind of answer (each ref rejected, and why), so git says so.
  void refuse_oversize(const RunOutcome& out, const std::string& updates_note);
  void log(const std::string& line) {
    // The caller's log line names the repo already.
    result_.log = std::string(service_name(service_)) + ": " + line + note_;
  }

  const GitServiceOptions& opt_;
  GitService::State& st_;
  const GitRequest& req_;
  HttpIo& io_;
  ServeResult& result_;
  HttpReply reply_;

  Service service_ = Service::upload_pack;
  bool advertise_ = false;
  bool v2_ = false;
  bool gzip_ = false;
  bool holdback_ = false;
  std::string git_dir_;  // when set, git runs here instead of repo_dir()
  std::string prefix_;   // written right after begin (the v0 "# service=" header)
  std::string held_;
  SidebandTracker tracker_;  // upload-pack output, when a notice waits for its end
  std::string note_;         // appended to the log line
  std::string content_type_, content_encoding_, git_protocol_, content_length_;
  std::string body_head_;  // request bytes read before git started (handed to the pump)
};

}  // namespace detail
}  // namespace mesh::repl
