#include "git_service.hpp"

#include <errno.h>
#include <git2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "git_process.hpp"
#include "mirror_init.hpp"
#include "pkt_line.hpp"

namespace mesh::repl {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;
using RefMap = std::map<std::string, std::string>;

namespace {

constexpr std::size_t kIoBuf = 64 * 1024;
constexpr std::size_t kMaxGitProtocol = 256;
constexpr std::string_view kTmpPrefix = kMirrorTmpPrefix;
// The empty repository that advertises for a receive-pack to a repo that does not exist yet.
// Its name is no valid repo name, so it is never served or listed as a mirror.
constexpr std::string_view kEmptyRepo = ".mesh-empty.git";
constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";
constexpr std::string_view kZeroOid = "0000000000000000000000000000000000000000";

enum class Service { upload_pack, receive_pack };

std::string_view service_name(Service s) {
  return s == Service::upload_pack ? "git-upload-pack" : "git-receive-pack";
}
std::string_view subcommand(Service s) {
  return s == Service::upload_pack ? "upload-pack" : "receive-pack";
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The media type of a Content-Type value, parameters ignored, case-insensitively.
bool media_type_is(std::string_view header, std::string_view want) {
  return iequals(trim(header.substr(0, header.find(';'))), want);
}

// Splits on ':' and calls f(item) for each; stops early when f returns true.
template <class F>
bool any_item(std::string_view value, F f) {
  std::size_t i = 0;
  while (i <= value.size()) {
    std::size_t j = value.find(':', i);
    if (j == std::string_view::npos) j = value.size();
    if (f(value.substr(i, j - i))) return true;
    i = j + 1;
  }
  return false;
}

// As git's server (determine_protocol_version_server): any item "version=2".
bool protocol_v2(std::string_view git_protocol) {
  return !git_protocol.empty() &&
         any_item(git_protocol, [](std::string_view item) { return item == "version=2"; });
}

enum class QueryService { missing, bad, upload_pack, receive_pack };

QueryService query_service(std::string_view query) {
  QueryService found = QueryService::missing;
  std::size_t i = 0;
  while (i < query.size()) {
    std::size_t j = query.find('&', i);
    if (j == std::string_view::npos) j = query.size();
    std::string_view param = query.substr(i, j - i);
    if (param.starts_with("service=")) {
      if (found != QueryService::missing) return QueryService::bad;  // repeated
      param.remove_prefix(8);
      if (param == "git-upload-pack") {
        found = QueryService::upload_pack;
      } else if (param == "git-receive-pack") {
        found = QueryService::receive_pack;
      } else {
        return QueryService::bad;
      }
    }
    i = j + 1;
  }
  return found;
}

// The headers git-http-backend sends on every smart response: nothing may cache it.
Headers git_headers(std::string content_type) {
  return {{"Content-Type", std::move(content_type)},
          {"Cache-Control", "no-cache, max-age=0, must-revalidate"},
          {"Pragma", "no-cache"},
          {"Expires", "Fri, 01 Jan 1980 00:00:00 GMT"}};
}

// git's stderr reduced to one bounded line for the log.
std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += "; ";
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out += c;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  if (out.size() > 512) out.replace(509, std::string::npos, "...");
  return out;
}

std::string plural(std::size_t n, std::string_view what) {
  return std::to_string(n) + " " + std::string(what) + (n == 1 ? "" : "s");
}

// ---- libgit2 ----

template <class T, void (*Free)(T*)>
struct Git2Free {
  void operator()(T* p) const { Free(p); }
};
using RepoPtr = std::unique_ptr<git_repository, Git2Free<git_repository, git_repository_free>>;
using RefPtr = std::unique_ptr<git_reference, Git2Free<git_reference, git_reference_free>>;
using RefIterPtr = std::unique_ptr<git_reference_iterator,
                                   Git2Free<git_reference_iterator, git_reference_iterator_free>>;
using ConfigPtr = std::unique_ptr<git_config, Git2Free<git_config, git_config_free>>;

std::string git2_error(std::string_view what) {
  const git_error* e = git_error_last();
  return std::string(what) + ": " + (e && e->message ? e->message : "libgit2 error");
}

RepoPtr open_repo(const std::string& dir, std::string* err) {
  git_repository* raw = nullptr;
  if (git_repository_open_bare(&raw, dir.c_str()) != 0) {
    *err = git2_error("open repository");
    return nullptr;
  }
  return RepoPtr(raw);
}

// Every direct ref (symbolic ones follow a direct one anyway): name -> hex oid.
bool snapshot_refs(const std::string& dir, RefMap* out, std::string* err) {
  out->clear();
  RepoPtr repo = open_repo(dir, err);
  if (!repo) return false;
  git_reference_iterator* it_raw = nullptr;
  if (git_reference_iterator_new(&it_raw, repo.get()) != 0) {
    *err = git2_error("list refs");
    return false;
  }
  RefIterPtr it(it_raw);
  for (;;) {
    git_reference* ref_raw = nullptr;
    int rc = git_reference_next(&ref_raw, it.get());
    if (rc == GIT_ITEROVER) return true;
    if (rc != 0) {
      *err = git2_error("list refs");
      return false;
    }
    RefPtr ref(ref_raw);
    if (git_reference_type(ref.get()) != GIT_REFERENCE_DIRECT) continue;
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, git_reference_target(ref.get()));
    (*out)[git_reference_name(ref.get())] = hex;
  }
}

std::vector<RefUpdate> diff_refs(const RefMap& before, const RefMap& after) {
  std::vector<RefUpdate> out;
  auto b = before.begin();
  auto a = after.begin();
  const std::string zero(kZeroOid);
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      out.push_back({b->first, b->second, zero});
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      out.push_back({a->first, zero, a->second});
      ++a;
    } else {
      if (a->second != b->second) out.push_back({a->first, b->second, a->second});
      ++a;
      ++b;
    }
  }
  return out;
}

// A fresh mirror's HEAD names refs/heads/main; when the first push brought other branches
// only, point HEAD at one of them so that clones check something out.
void adopt_head(const std::string& dir, const RefMap& refs) {
  std::string err;
  RepoPtr repo = open_repo(dir, &err);
  if (!repo || git_repository_head_unborn(repo.get()) != 1) return;
  std::string pick;
  for (const char* preferred : {"refs/heads/main", "refs/heads/master"}) {
    if (refs.count(preferred)) {
      pick = preferred;
      break;
    }
  }
  if (pick.empty()) {
    auto it = refs.lower_bound("refs/heads/");
    if (it == refs.end() || !it->first.starts_with("refs/heads/")) return;
    pick = it->first;
  }
  git_repository_set_head(repo.get(), pick.c_str());
}

// ---- request body pump ----

enum class PumpFailure { none, client_gone, too_large, bad_encoding };

// gzip request bodies (possibly several members, as gunzip accepts). Output goes to a sink in
// pieces of at most kIoBuf bytes, so memory stays bounded whatever the ratio.
class Gunzip {
 public:
  Gunzip() {
    zs_.zalloc = Z_NULL;
    zs_.zfree = Z_NULL;
    zs_.opaque = Z_NULL;
    ok_ = inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK;
  }
  ~Gunzip() {
    if (ok_) inflateEnd(&zs_);
  }
  Gunzip(const Gunzip&) = delete;
  Gunzip& operator=(const Gunzip&) = delete;

  // False on corrupt data or when the sink refuses (then `sink_refused` is set).
  template <class Sink>
  bool feed(std::string_view in, Sink&& sink, bool* sink_refused) {
    if (!ok_) return false;
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    while (zs_.avail_in > 0) {
      if (ended_) {
        // Another member follows.
        if (inflateReset(&zs_) != Z_OK) return false;
        ended_ = false;
      }
      zs_.next_out = reinterpret_cast<Bytef*>(out_);
      zs_.avail_out = sizeof out_;
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return false;
      std::size_t n = sizeof out_ - zs_.avail_out;
      if (n > 0 && !sink(std::string_view(out_, n))) {
        *sink_refused = true;
        return false;
      }
      if (rc == Z_STREAM_END) ended_ = true;
      if (rc == Z_BUF_ERROR && n == 0) return false;  // no progress possible
    }
    return true;
  }
  // The body ended on a member boundary.
  bool complete() const { return ok_ && ended_; }

 private:
  z_stream zs_{};
  bool ok_ = false;
  bool ended_ = false;
  char out_[kIoBuf];
};

// Finds the capabilities of a receive-pack request: they follow a NUL in its first pkt-line.
// Holds at most that line (<= 65516 bytes), and only until it is complete.
class CapSniffer {
 public:
  void feed(std::string_view d) {
    while (!done_ && !d.empty()) {
      if (header_.size() < 4) {
        std::size_t n = std::min(4 - header_.size(), d.size());
        header_.append(d.substr(0, n));
        d.remove_prefix(n);
        if (header_.size() == 4) {
          auto len = pkt_length(header_);
          // flush (no commands), special packets and garbage: no capabilities.
          if (!len || *len <= 4 || *len > kPktMax) {
            done_ = true;
            return;
          }
          need_ = *len - 4;
          commands_ = true;
        }
        continue;
      }
      std::size_t n = std::min(need_ - line_.size(), d.size());
      line_.append(d.substr(0, n));
      d.remove_prefix(n);
      if (line_.size() == need_) finish();
    }
  }
  // 0: none, 1: side-band (1000-byte packets), 2: side-band-64k.
  int sideband() const { return sideband_; }
  // The request carried at least one ref command (a probe or an empty push carries none).
  bool commands() const { return commands_; }

 private:
  void finish() {
    done_ = true;
    std::string_view line = line_;
    std::size_t nul = line.find('\0');
    if (nul == std::string_view::npos) return;
    std::string_view caps = line.substr(nul + 1);
    if (caps.ends_with('\n')) caps.remove_suffix(1);
    std::size_t i = 0;
    while (i <= caps.size()) {
      std::size_t j = caps.find(' ', i);
      if (j == std::string_view::npos) j = caps.size();
      std::string_view cap = caps.substr(i, j - i);
      if (cap == "side-band-64k") {
        sideband_ = 2;
      } else if (cap == "side-band" && sideband_ == 0) {
        sideband_ = 1;
      }
      i = j + 1;
    }
    line_.clear();
    line_.shrink_to_fit();
  }

  std::string header_, line_;
  std::size_t need_ = 0;
  bool done_ = false;
  bool commands_ = false;
  int sideband_ = 0;
};

bool write_all(int fd, std::string_view d) {
  while (!d.empty()) {
    ssize_t n = ::write(fd, d.data(), d.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    d.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Feeds the request body to git's stdin on its own thread, so that git can write (and we can
// forward) its output while it still reads: a pipe deadlock otherwise.
struct Pump {
  HttpIo* io = nullptr;
  Fd to_git;
  int wake = -1;  // eventfd (not owned): signalled on failure, so the serve thread stops waiting
  bool gzip = false;
  bool sniff = false;
  std::uint64_t max_bytes = 0;
  std::atomic<std::int64_t>* progress = nullptr;
  std::string prefix;  // body bytes the serving thread already read (the probe check)

  // Results, read after join().
  PumpFailure failure = PumpFailure::none;
  bool git_closed = false;  // git stopped reading (EPIPE): not the client's fault
  std::uint64_t bytes = 0;  // decompressed
  CapSniffer sniffer;

  void run() {
    // A write to a pipe whose reader died raises SIGPIPE in the writing thread; keep it
    // pending here (it dies with the thread) instead of relying on the daemon ignoring it.
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);

    auto deliver = [this](std::string_view d) {
      bytes += d.size();
      if (bytes > max_bytes) {
        failure = PumpFailure::too_large;
        return false;
      }
      if (sniff) sniffer.feed(d);
      if (!write_all(to_git.get(), d)) {
        git_closed = true;
        return false;
      }
      progress->store(now_ns(), std::memory_order_relaxed);
      return true;
    };
    std::optional<Gunzip> gz;
    if (gzip) gz.emplace();
    // One piece of the body as it came from the client; false: stop.
    auto consume = [&](std::string_view in) {
      if (gz) {
        bool refused = false;
        if (!gz->feed(in, deliver, &refused)) {
          if (!refused) failure = PumpFailure::bad_encoding;
          return false;
        }
        return true;
      }
      return deliver(in);
    };
    std::vector<char> buf(kIoBuf);
    bool more = prefix.empty() || consume(prefix);
    while (more) {
      std::size_t got = 0;
      if (io->read(buf.data(), buf.size(), &got) != 0) {
        failure = PumpFailure::client_gone;
        break;
      }
      if (got == 0) {
        if (gz && !gz->complete()) failure = PumpFailure::bad_encoding;
        break;
      }
      progress->store(now_ns(), std::memory_order_relaxed);
      more = consume(std::string_view(buf.data(), got));
    }
    to_git.reset();  // EOF for git
    if (failure != PumpFailure::none) {
      std::uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(wake, &one, sizeof one);
    }
  }
};

// Exactly one terminal call on the HttpIo per request, whatever path serve() takes.
class Reply {
 public:
  Reply(HttpIo& io, ServeResult& result) : io_(io), result_(result) {}
  ~Reply() {
    if (!done_) end(false);
  }
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;

  bool begun() const { return begun_; }
  bool done() const { return done_; }

  // A whole text/plain response (before begin only).
  void text(unsigned status, std::string_view body, const Headers& extra = {}) {
    std::string msg(body);
    msg += '\n';
    if (extra.empty()) {
      done_ = true;
      result_.status =
          call([&] { return io_.respond(status, "text/plain; charset=utf-8", msg); }) ? status : 0;
      return;
    }
    Headers h{{"Content-Type", "text/plain; charset=utf-8"}};
    h.insert(h.end(), extra.begin(), extra.end());
    if (begin(status, h)) write(msg);
    end(true);
  }
  bool begin(unsigned status, const Headers& headers) {
    begun_ = true;
    if (!call([&] { return io_.begin(status, headers); })) {
      failed_ = true;
      return false;
    }
    result_.status = status;
    return true;
  }
  bool write(std::string_view d) {
    if (failed_) return false;
    if (d.empty()) return true;
    if (!call([&] { return io_.write(d); })) failed_ = true;
    return !failed_;
  }
  void end(bool ok) {
    if (done_) return;
    done_ = true;
    call([&] { return io_.end(ok && !failed_); });
  }
  // An error: a plain response while nothing was sent, else an abort.
  void fail(unsigned status, std::string_view body) {
    if (!begun_) {
      text(status, body);
    } else {
      end(false);
    }
  }

 private:
  // The adapter is not ours: an exception from it counts as a failed call.
  template <class F>
  static bool call(F f) {
    try {
      return f() == 0;
    } catch (...) {
      return false;
    }
  }

  HttpIo& io_;
  ServeResult& result_;
  bool begun_ = false;
  bool failed_ = false;
  bool done_ = false;
};

// A sideband channel 2 ("remote: ...") packet within the negotiated packet size.
std::string sideband_message(std::string msg, int sideband) {
  std::size_t max_payload = (sideband == 2 ? kPktMax : 1000) - 4 - 1;
  if (msg.empty() || msg.back() != '\n') msg += '\n';
  if (msg.size() > max_payload) {
    msg.resize(max_payload - 1);
    msg += '\n';
  }
  return *pkt_line("\x02" + msg);
}

}  // namespace

bool valid_git_protocol(std::string_view value) {
  if (value.size() > kMaxGitProtocol) return false;
  if (value.empty()) return true;
  return !any_item(value, [](std::string_view item) {
    if (item.empty()) return true;
    for (char c : item) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '=' || c == '-';
      if (!ok) return true;
    }
    return false;
  });
}

// ---- the service ----

struct GitService::State {
  std::string git_path;  // resolved; empty if not found
  std::string path_env;

  std::mutex mu;
  std::condition_variable slot_free;
  unsigned active = 0;
  unsigned waiting = 0;  // requests queued for a slot
  // Per-repo receive-pack locks, dropped when nobody holds or waits for them.
  std::map<std::string, std::pair<std::shared_ptr<std::mutex>, unsigned>> repo_locks;
};

namespace {

// A process slot, released on destruction unless released earlier.
// Git clients do not retry a 503, so a burst (ten clones at once) waits briefly for a slot in a
// bounded queue instead of failing; only a full queue or a long wait answers 503.
class Slot {
 public:
  explicit Slot(GitService::State& st) : st_(st) {}
  ~Slot() { release(); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  bool acquire(unsigned max, unsigned max_waiting, std::chrono::milliseconds wait) {
    std::unique_lock lock(st_.mu);
    if (st_.active >= max) {
      if (st_.waiting >= max_waiting || wait.count() <= 0) return false;
      ++st_.waiting;
      bool got = st_.slot_free.wait_for(lock, wait, [&] { return st_.active < max; });
      --st_.waiting;
      if (!got) return false;
    }
    ++st_.active;
    held_ = true;
    return true;
  }
  void release() {
    if (!held_) return;
    {
      std::lock_guard lock(st_.mu);
      --st_.active;
      held_ = false;
    }
    st_.slot_free.notify_one();
  }

 private:
  GitService::State& st_;
  bool held_ = false;
};

class RepoLock {
 public:
  using Map = std::map<std::string, std::pair<std::shared_ptr<std::mutex>, unsigned>>;
  RepoLock(std::mutex& mu, Map& map, const std::string& name) : mu_(mu), map_(map), name_(name) {
    {
      std::lock_guard lock(mu_);
      auto& entry = map_[name_];
      if (!entry.first) entry.first = std::make_shared<std::mutex>();
      ++entry.second;
      repo_mu_ = entry.first;
    }
    repo_mu_->lock();
    locked_ = true;
  }
  ~RepoLock() { release(); }
  RepoLock(const RepoLock&) = delete;
  RepoLock& operator=(const RepoLock&) = delete;
  void release() {
    if (!locked_) return;
    locked_ = false;
    repo_mu_->unlock();
    std::lock_guard lock(mu_);
    auto it = map_.find(name_);
    if (--it->second.second == 0) map_.erase(it);
  }

 private:
  std::mutex& mu_;
  Map& map_;
  std::string name_;
  std::shared_ptr<std::mutex> repo_mu_;
  bool locked_ = false;
};

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
  std::uint64_t bytes_in = 0, bytes_out = 0;
};

}  // namespace

GitService::GitService(GitServiceOptions options)
    : options_(std::move(options)), state_(std::make_unique<State>()) {
  git_libgit2_init();
  std::error_code ec;
  if (!options_.repos_dir.empty()) {
    auto abs = fs::absolute(options_.repos_dir, ec);
    if (!ec) options_.repos_dir = abs.lexically_normal();
  }
  const char* path = std::getenv("PATH");
  state_->path_env = path && *path ? path : std::string(kDefaultPath);
  state_->git_path = find_executable(options_.git, state_->path_env);
  if (options_.max_processes == 0) options_.max_processes = 1;

  // Leftovers of a creation interrupted by a crash of an earlier run (other pids): never
  // served (the name starts with '.'), but not worth keeping.
  const std::string mine = std::string(kTmpPrefix) + std::to_string(::getpid()) + "-";
  for (auto it = fs::directory_iterator(options_.repos_dir, ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with(kTmpPrefix) && !name.starts_with(mine)) {
      std::error_code rm;
      fs::remove_all(it->path(), rm);
    }
  }
}

GitService::~GitService() {
  git_libgit2_shutdown();
}

unsigned GitService::active() const {
  std::lock_guard lock(state_->mu);
  return state_->active;
}

namespace {

// Everything one request needs; split out of GitService to keep the header small.
class Exchange {
 public:
  Exchange(const GitServiceOptions& opt, GitService::State& st, const GitRequest& req, HttpIo& io,
           ServeResult& result)
      : opt_(opt), st_(st), req_(req), io_(io), result_(result), reply_(io, result) {}

  void run();

 private:
  std::string repo_dir() const { return (opt_.repos_dir / (req_.path.repo + ".git")).string(); }
  std::string git_dir_;  // when set, git runs here instead of repo_dir()
  bool ensure_mirror(const std::string& dir, std::string* err);
  std::vector<std::string> child_env() const;
  bool start_response();
  bool emit(std::string_view data);
  RunOutcome run_git(bool advertise, Slot& slot);
  void finish(const RunOutcome& out, const AfterReceive* hook);
  void log(const std::string& line) {
    // The caller's log line names the repo already.
    result_.log = std::string(service_name(service_)) + ": " + line + note_;
  }

  const GitServiceOptions& opt_;
  GitService::State& st_;
  const GitRequest& req_;
  HttpIo& io_;
  ServeResult& result_;
  Reply reply_;

  Service service_ = Service::upload_pack;
  bool advertise_ = false;
  bool v2_ = false;
  bool gzip_ = false;
  bool holdback_ = false;
  std::string prefix_;  // written right after begin (the v0 "# service=" header)
  std::string held_;
  std::string note_;  // appended to the log line
  std::string content_type_, content_encoding_, git_protocol_, content_length_;
  std::string body_head_;  // request bytes read before git started (handed to the pump)
  bool answer_probe();
};

void Exchange::run() {
  const GitPath what = req_.path.what;
  // A repeated Content-Encoding or Git-Protocol is ambiguous: refuse it rather than guess.
  int n_enc = 0, n_proto = 0;
  for (const auto& [name, value] : req_.headers) {
    if (iequals(name, "Content-Type")) {
      if (content_type_.empty()) content_type_ = value;
    } else if (iequals(name, "Content-Encoding")) {
      content_encoding_ = value;
      ++n_enc;
    } else if (iequals(name, "Git-Protocol")) {
      git_protocol_ = value;
      ++n_proto;
    } else if (iequals(name, "Content-Length")) {
      content_length_ = value;
    }
  }
  if (n_enc > 1 || n_proto > 1) {
    reply_.text(400, "repeated Content-Encoding or Git-Protocol header");
    result_.log = "repeated Content-Encoding or Git-Protocol header";
    return;
  }
  if (what == GitPath::info_refs) {
    if (req_.method != "GET") {
      reply_.text(405, "info/refs takes GET", {{"Allow", "GET"}});
      result_.log = "info/refs: method " + one_line(req_.method) + " not allowed";
      return;
    }
    switch (query_service(req_.query)) {
      case QueryService::upload_pack:
        service_ = Service::upload_pack;
        break;
      case QueryService::receive_pack:
        service_ = Service::receive_pack;
        break;
      case QueryService::missing:
        reply_.text(400,
                    "dumb HTTP is not served: this server speaks git's smart HTTP only "
                    "(info/refs?service=git-upload-pack or git-receive-pack)");
        result_.log = "info/refs: no service (dumb HTTP client?)";
        return;
      case QueryService::bad:
        reply_.text(400, "unsupported service: use service=git-upload-pack or git-receive-pack");
        result_.log = "info/refs: bad query";
        return;
    }
    advertise_ = true;
  } else {
    service_ = what == GitPath::upload_pack ? Service::upload_pack : Service::receive_pack;
    if (req_.method != "POST") {
      reply_.text(405, std::string(service_name(service_)) + " takes POST", {{"Allow", "POST"}});
      log("method " + one_line(req_.method) + " not allowed");
      return;
    }
    std::string want = "application/x-" + std::string(service_name(service_)) + "-request";
    if (!media_type_is(content_type_, want)) {
      reply_.text(415, "Content-Type must be " + want);
      log("bad content type '" + one_line(content_type_) + "'");
      return;
    }
    std::string_view enc = trim(content_encoding_);
    if (iequals(enc, "gzip") || iequals(enc, "x-gzip")) {
      gzip_ = true;
    } else if (!enc.empty() && !iequals(enc, "identity")) {
      reply_.text(415, "unsupported Content-Encoding (gzip only)");
      log("unsupported content encoding '" + one_line(enc) + "'");
      return;
    }
  }
  if (!valid_git_protocol(git_protocol_)) {
    reply_.text(400, "invalid Git-Protocol header");
    log("invalid Git-Protocol header");
    return;
  }
  v2_ = protocol_v2(git_protocol_);
  if (service_ == Service::receive_pack && !advertise_ && answer_probe()) return;
  if (st_.git_path.empty()) {
    reply_.text(500, "git is not installed on this node");
    log("git executable '" + opt_.git + "' not found");
    return;
  }

  Slot slot(st_);
  if (!slot.acquire(opt_.max_processes, opt_.max_waiting, opt_.slot_wait)) {
    reply_.text(503, "too many git processes, retry later",
                {{"Retry-After", std::to_string(opt_.retry_after_seconds)}});
    log("busy (" + std::to_string(opt_.max_processes) + " git processes)");
    return;
  }

  const std::string dir = repo_dir();
  std::string err;
  if (service_ == Service::upload_pack) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      reply_.text(404, "repository not found");
      log("not found");
      return;
    }
  } else if (advertise_ && !fs::is_directory(dir)) {
    // A push starts with this advertisement, but so does any probe: answer from an empty
    // stand-in, and create the mirror only when a pack actually arrives (the POST).
    const std::string empty = (opt_.repos_dir / kEmptyRepo).string();
    if (!ensure_mirror(empty, &err)) {
      reply_.text(500, "cannot create the repository");
      log(err);
      return;
    }
    result_.created = false;  // the stand-in is no mirror
    git_dir_ = empty;
  } else if (!ensure_mirror(dir, &err)) {
    reply_.text(500, "cannot create the repository");
    log(err);
    return;
  }

  if (advertise_) {
    if (!v2_) {
      prefix_ = *pkt_line("# service=" + std::string(service_name(service_)) + "\n");
      prefix_ += kFlushPkt;
    }
    RunOutcome out = run_git(true, slot);
    finish(out, nullptr);
    return;
  }
  if (service_ == Service::upload_pack) {
    RunOutcome out = run_git(false, slot);
    finish(out, nullptr);
    return;
  }

  // receive-pack: one at a time per repo, with a ref snapshot on either side.
  const AfterReceive* hook = req_.after_receive   ? &req_.after_receive
                             : opt_.after_receive ? &opt_.after_receive
                                                  : nullptr;
  holdback_ = hook != nullptr;
  RepoLock lock(st_.mu, st_.repo_locks, req_.path.repo);
  RefMap before, after;
  if (!snapshot_refs(dir, &before, &err)) {
    reply_.text(500, "cannot read the repository");
    log(err);
    return;
  }
  RunOutcome out = run_git(false, slot);
  if (snapshot_refs(dir, &after, &err)) {
    result_.updates = diff_refs(before, after);
    if (!result_.updates.empty()) adopt_head(dir, after);
  } else {
    // Should not happen; the caller then sees no updates, and anti-entropy catches up.
    note_ = "; after-push snapshot failed: " + err;
  }
  lock.release();
  finish(out, hook);
}

// Before a push over http.postBuffer, git POSTs a bare flush packet ("0000") to see whether
// authentication is needed. receive-pack answers that with nothing at all, so this does the
// same without spawning it (one git process fewer per large push). Returns true when it
// answered (or the client went away); otherwise the bytes it read go to git first.
bool Exchange::answer_probe() {
  if (gzip_ || trim(content_length_) != "4") return false;
  char buf[8];
  std::size_t have = 0;
  for (;;) {
    std::size_t got = 0;
    if (io_.read(buf + have, sizeof buf - have, &got) != 0) {
      reply_.end(false);
      log("client went away");
      return true;
    }
    if (got == 0) break;
    have += got;
    if (have == sizeof buf) break;
  }
  body_head_.assign(buf, have);
  if (body_head_ != kFlushPkt) return false;
  if (start_response()) reply_.end(true);
  log("probe (flush packet only): answered without git");
  return true;
}

bool Exchange::ensure_mirror(const std::string& dir, std::string* err) {
  switch (init_mirror(dir, err)) {
    case MirrorInit::created:
      result_.created = true;
      return true;
    case MirrorInit::existed:
      return true;
    case MirrorInit::failed:
      break;
  }
  return false;
}

std::vector<std::string> Exchange::child_env() const {
  std::vector<std::string> env = {
      "PATH=" + st_.path_env,        "HOME=" + opt_.repos_dir.string(), "LANG=C",
      "GIT_CONFIG_NOSYSTEM=1",
      "GIT_CONFIG_GLOBAL=/dev/null",  // no ~/.gitconfig, whatever HOME holds
  };
  if (!git_protocol_.empty()) env.push_back("GIT_PROTOCOL=" + git_protocol_);
  return env;
}

bool Exchange::start_response() {
  std::string type = "application/x-" + std::string(service_name(service_)) +
                     (advertise_ ? "-advertisement" : "-result");
  return reply_.begin(200, git_headers(std::move(type))) && reply_.write(prefix_);
}

// Forwards git's output. With holdback_, the last 4 bytes stay back until git has exited: they
// are receive-pack's final flush when it used a sideband, and the "remote:" line goes before.
bool Exchange::emit(std::string_view data) {
  if (!reply_.begun() && !start_response()) return false;
  if (!holdback_) return reply_.write(data);
  std::string all = held_;
  all.append(data);
  if (all.size() <= kFlushPkt.size()) {
    held_ = std::move(all);
    return true;
  }
  std::size_t cut = all.size() - kFlushPkt.size();
  held_ = all.substr(cut);
  all.resize(cut);
  return reply_.write(all);
}

RunOutcome Exchange::run_git(bool advertise, Slot& slot) {
  RunOutcome out;
  ProcessSpec spec;
  spec.path = st_.git_path;
  spec.argv = {"git",
               "-c",
               "core.hooksPath=/dev/null",  // nothing in a mirror runs hooks
               "-c",
               "receive.fsckObjects=true",
               "-c",
               "transfer.fsckObjects=true",
               std::string(subcommand(service_)),
               "--stateless-rpc"};
  if (advertise) spec.argv.push_back("--advertise-refs");
  spec.argv.push_back(git_dir_.empty() ? repo_dir() : git_dir_);
  spec.env = child_env();
  spec.pipe_stdin = !advertise;

  std::string err;
  auto child = ChildProcess::spawn(spec, &err);
  if (!child) {
    out.wait_status = -1;
    out.stderr_tail = err;
    return out;
  }
  const auto start = Clock::now();
  std::atomic<std::int64_t> progress{now_ns()};

  Pump pump;
  std::thread pump_thread;
  Fd wake;
  if (!advertise) {
    wake.reset(::eventfd(0, EFD_CLOEXEC));
    pump.io = &io_;
    pump.to_git = child->take_stdin();
    pump.wake = wake.get();
    pump.gzip = gzip_;
    pump.sniff = service_ == Service::receive_pack;
    pump.max_bytes = opt_.max_request_bytes;
    pump.prefix = std::move(body_head_);
    pump.progress = &progress;
    if (!wake) {
      out.stderr_tail = "eventfd failed";
      child->terminate(opt_.kill_grace);
      return out;
    }
    try {
      pump_thread = std::thread([&pump] { pump.run(); });
    } catch (const std::exception& e) {
      out.stderr_tail = std::string("thread: ") + e.what();
      child->terminate(opt_.kill_grace);
      return out;
    }
  }

  // Whatever leaves this function early (an exception): stop git, then the pump.
  struct JoinGuard {
    std::unique_ptr<ChildProcess>& child;
    std::thread& thread;
    std::chrono::milliseconds grace;
    ~JoinGuard() {
      if (!thread.joinable()) return;
      if (child) child->terminate(grace);
      thread.join();
    }
  } guard{child, pump_thread, opt_.kill_grace};
  Fd from_git = child->take_stdout();
  std::vector<char> buf(kIoBuf);
  bool eof = false;
  for (;;) {
    auto deadline = Clock::time_point::max();
    auto last = Clock::time_point(
        std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(progress.load())));
    if (opt_.idle_timeout.count() > 0) deadline = std::min(deadline, last + opt_.idle_timeout);
    if (opt_.max_duration.count() > 0) deadline = std::min(deadline, start + opt_.max_duration);
    int timeout_ms = -1;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
    }
    struct pollfd p[2] = {{from_git.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
    int pr = ::poll(p, wake ? 2 : 1, timeout_ms);
    if (pr < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (wake && (p[1].revents & POLLIN)) break;  // the pump failed: stop git
    if (pr == 0) {
      if (Clock::now() >= deadline) {
        out.timed_out = true;
        break;
      }
      continue;  // the pump made progress meanwhile
    }
    ssize_t n = ::read(from_git.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    progress.store(now_ns(), std::memory_order_relaxed);
    out.bytes_out += static_cast<std::size_t>(n);
    if (!emit(std::string_view(buf.data(), static_cast<std::size_t>(n)))) {
      out.client_gone = true;
      break;
    }
  }
  from_git.reset();

  // Normally git closes stdout as it exits; anything else gets SIGTERM, then SIGKILL.
  if (!eof) {
    child->terminate(opt_.kill_grace);
  } else {
    auto wait =
        opt_.idle_timeout.count() > 0 ? Clock::now() + opt_.idle_timeout : Clock::time_point::max();
    if (!child->wait_exit(wait)) {
      out.timed_out = true;
      child->terminate(opt_.kill_grace);
    }
  }
  out.wait_status = child->reap();
  out.stderr_tail = child->stderr_tail(2048);
  child.reset();
  slot.release();
  // git is gone, so a pump blocked writing to it returns; one blocked in io.read waits for
  // the client, which the HttpIo bounds with its own timeout.
  if (pump_thread.joinable()) pump_thread.join();

  out.pump_failure = pump.failure;
  if (pump.failure == PumpFailure::client_gone) out.client_gone = true;
  out.sideband = pump.sniffer.sideband();
  out.commands = pump.sniffer.commands();
  out.bytes_in = pump.bytes;
  out.exited_ok =
      eof && !out.timed_out && pump.failure == PumpFailure::none && out.wait_status == 0;
  out.held = std::move(held_);
  return out;
}

void Exchange::finish(const RunOutcome& out, const AfterReceive* hook) {
  std::string updates_note;
  if (service_ == Service::receive_pack && !advertise_) {
    updates_note = ", " + plural(result_.updates.size(), "ref") + " updated";
  }
  if (out.client_gone) {
    reply_.end(false);
    log("client went away (" + std::to_string(out.bytes_in) + " bytes in, " +
        std::to_string(out.bytes_out) + " out)" + updates_note);
    return;
  }
  switch (out.pump_failure) {
    case PumpFailure::too_large:
      reply_.fail(413, "request body over " + std::to_string(opt_.max_request_bytes) +
                           " bytes (decompressed)");
      log("request body over " + std::to_string(opt_.max_request_bytes) + " bytes" + updates_note);
      return;
    case PumpFailure::bad_encoding:
      reply_.fail(400, "corrupt gzip request body");
      log("corrupt gzip request body" + updates_note);
      return;
    default:
      break;
  }
  if (out.timed_out) {
    reply_.fail(504, "git timed out");
    log("timed out" + updates_note);
    return;
  }
  std::string git_said = one_line(out.stderr_tail);
  if (!out.exited_ok && !reply_.begun()) {
    reply_.text(500, std::string(service_name(service_)) + " failed");
    log((out.wait_status == -1 ? std::string("spawn failed")
                               : "git " + describe_wait_status(out.wait_status)) +
        (git_said.empty() ? "" : ": " + git_said) + updates_note);
    return;
  }
  if (!reply_.begun() && !start_response()) {
    reply_.end(false);
    log("client went away" + updates_note);
    return;
  }
  // Once output went out, it goes out whole: git's own error packets (ERR, sideband 3,
  // "unpack error") tell the client more than a truncated response would.
  if (hook && out.exited_ok && out.sideband != 0 && out.held == kFlushPkt &&
      !result_.updates.empty()) {
    std::string msg;
    try {
      msg = (*hook)(result_.updates);
    } catch (const std::exception& e) {
      msg.clear();
      git_said += std::string(" after_receive threw: ") + e.what();
    } catch (...) {
      msg.clear();
    }
    if (!msg.empty()) reply_.write(sideband_message(std::move(msg), out.sideband));
  }
  reply_.write(out.held);
  reply_.end(true);
  if (out.exited_ok && out.commands && result_.updates.empty()) {
    // receive-pack exits 0 when it refuses every command (fsck failure, deleting the current
    // branch...): the client got the reasons in its report; the log must not say "ok".
    result_.refused = true;
    log("refused: the push changed no ref (" + std::to_string(out.bytes_in) + " bytes in" +
        (git_said.empty() ? "" : "; git said: " + git_said) + ")");
  } else if (out.exited_ok) {
    log("ok, " + std::to_string(out.bytes_in) + " bytes in, " + std::to_string(out.bytes_out) +
        " out" + updates_note + (result_.created ? " (created)" : ""));
  } else {
    log("git " + describe_wait_status(out.wait_status) + (git_said.empty() ? "" : ": " + git_said) +
        updates_note);
  }
}

}  // namespace

ServeResult GitService::serve(const GitRequest& request, HttpIo& io) {
  ServeResult result;
  try {
    Exchange ex(options_, *state_, request, io, result);
    ex.run();
  } catch (const std::exception& e) {
    // Exchange's Reply has aborted whatever was open by now.
    result.log = "internal error: " + std::string(e.what());
  } catch (...) {
    result.log = "internal error";
  }
  return result;
}

}  // namespace mesh::repl
