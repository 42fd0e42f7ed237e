// mesh/fake_host.hpp — an in-memory mesh host for unit-testing a plugin without a daemon.
// Header-only C++17, no dependencies beyond the standard library and mesh/plugin.h.
//
//   mesh::sdk::testing::FakeHost host;
//   host.set_config(R"({"label":"up"})");
//   ASSERT_EQ(host.load(mesh_plugin_entry), MESH_OK) << host.error();
//   auto res = host.http("GET", "/uptime");                 // runs the plugin's handler
//   EXPECT_EQ(res.status, 200);
//   auto out = host.cli("uptime", {"--json"}, true);
//   host.advance(std::chrono::minutes(1));                   // due timers run, in order
//   host.inject({"mesh:peer", "ci", R"({"x":1})"});          // an event from another node
//   host.deliver();                                          // to matching subscriptions
//
// What it models, and how far: routes (prefix and {pattern} matching as the daemon does),
// streamed calls (the body given to http() is what http_read returns), CLI verbs with chunks,
// timers on a fake clock, publish/subscribe through an explicit deliver() (the host never calls a
// plugin back from inside a host call, and neither does this one), heartbeat and status values,
// runners (run_job() runs a registered runner's run() on a thread of its own and waits for
// job_done), and job_submit to the runners registered here. Not modelled: peer connections,
// ui_render and markdown_render (MESH_E_UNSUPPORTED: they need the daemon's engines; ui_respond
// and sse_publish are recorded). Every callback runs on the calling thread of the driving method
// except runner jobs.
#ifndef MESH_FAKE_HOST_HPP
#define MESH_FAKE_HOST_HPP

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "mesh/plugin.h"

namespace mesh::sdk::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct FakeHttpResponse {
  bool answered = false;  // false: the plugin did not answer within the wait
  uint32_t status = 0;
  Headers headers;
  std::string body;
};

struct FakeCliReply {
  bool answered = false;
  int32_t exit_code = -1;
  std::string output;
  std::vector<std::string> chunks;
};

struct FakeEvent {
  std::string origin;  // "mesh:..."
  std::string topic;
  std::string payload;
  uint64_t seq = 0;  // 0: ephemeral
  uint64_t lamport = 0;
  uint64_t wall_ms = 0;
};

struct FakePage {
  uint32_t status = 0;
  std::string title, repo, tab, body_html, scripts;
};

struct FakeJob {
  std::string run_id = "run", job_name = "job", repo, sha, mode = "shell", image, workdir = "/";
  std::vector<std::string> commands{"true"};
  Headers env, secrets;
  uint64_t timeout_ms = 0;
};

struct FakeJobResult {
  bool done = false;
  uint32_t outcome = MESH_JOB_ERROR;
  int32_t exit_code = -1;
  std::string reason;
  std::string log;
};

class FakeHost {
  // Run fn under the state mutex (declared first: the accessors below deduce their types).
  template <typename Fn>
  void locked(Fn&& fn) {
    std::lock_guard<std::mutex> lock(mu_);
    fn();
  }
  template <typename Fn>
  auto copy(Fn&& fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    return fn();
  }

 public:
  // The plugin's data directory is a fresh temporary directory, removed by the destructor.
  FakeHost() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "mesh-fake-host-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) data_dir_ = tmpl;
    init_table();
  }
  ~FakeHost() {
    stop();
    join_jobs();
    std::error_code ec;
    if (!data_dir_.empty()) std::filesystem::remove_all(data_dir_, ec);
  }
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  // ---- set-up (before load) ----
  void set_config(std::string json) { locked([&] { config_ = std::move(json); }); }
  void set_self(std::string json) { locked([&] { self_ = std::move(json); }); }
  void set_peers(std::string json) { locked([&] { peers_ = std::move(json); }); }
  void set_repos_dir(std::string dir) { locked([&] { repos_dir_ = std::move(dir); }); }
  // What <root>/secrets.yml would hold: job_submit resolves declared secret names from it.
  void set_secrets(Headers secrets) { locked([&] { secrets_ = std::move(secrets); }); }
  const std::string& data_dir() const { return data_dir_; }
  const mesh_host* table() const { return &host_; }

  // ---- lifecycle ----
  int32_t load(mesh_plugin_entry_fn entry) {
    const mesh_plugin_descriptor* d = entry ? entry(MESH_ABI_MAJOR, MESH_ABI_MINOR) : nullptr;
    return load(d);
  }
  int32_t load(const mesh_plugin_descriptor* d) {
    if (!d || !d->create || !d->start) return fail("no descriptor"), MESH_E_INVALID;
    desc_ = d;
    char err[MESH_ERR_CAP] = {0};
    int32_t rc = d->create(&host_, &instance_, err, sizeof err);
    if (rc != MESH_OK) return fail(std::string("create: ") + err), rc;
    rc = d->start(instance_, err, sizeof err);
    if (rc != MESH_OK) {
      d->destroy(instance_);
      instance_ = nullptr;
      return fail(std::string("start: ") + err), rc;
    }
    running_ = true;
    return MESH_OK;
  }
  // Stops and destroys the plugin: routes, verbs, timers, subscriptions and runners go first, as
  // in the daemon. Idempotent.
  void stop() {
    if (!running_) return;
    std::map<std::string, RunnerEntry> runners;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      routes_.clear();
      verbs_.clear();
      timers_.clear();
      subs_.clear();
      runners.swap(runners_);
      for (const auto& [id, j] : jobs_)
        if (!j->result.done && runners.count(j->runner)) {
          auto& r = runners[j->runner];
          r.cancel(r.user, id);  // the daemon cancels a stopping runner's jobs
        }
    }
    join_jobs();
    desc_->stop(instance_);
    desc_->destroy(instance_);
    instance_ = nullptr;
    running_ = false;
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  const std::string& error() const { return error_; }

  // ---- driving the plugin ----
  FakeHttpResponse http(const std::string& method, const std::string& path,
                        const std::string& body = {}, const Headers& headers = {},
                        bool member = false, std::chrono::milliseconds wait = std::chrono::seconds(10)) {
    Route route;
    std::vector<std::pair<std::string, std::string>> params;
    std::string query;
    std::string plain = path;
    if (auto q = plain.find('?'); q != std::string::npos) {
      query = plain.substr(q + 1);
      plain.resize(q);
    }
    if (!find_route(method, plain, &route, &params)) return FakeHttpResponse{true, 404, {}, "no route\n"};
    auto call = std::make_shared<Call>();
    call->body = body;
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      id = next_id_++;
      calls_[id] = call;
    }
    std::vector<mesh_http_header> hs, ps;
    for (const auto& [n, v] : headers) hs.push_back({v_(n), v_(v)});
    for (const auto& [n, v] : params) ps.push_back({v_(n), v_(v)});
    mesh_http_request r{};
    r.struct_size = sizeof r;
    r.client_kind = member ? MESH_CLIENT_MEMBER : MESH_CLIENT_LOCAL;
    r.call_id = id;
    r.method = v_(method);
    r.path = v_(plain);
    r.query = v_(query);
    r.headers = hs.data();
    r.header_count = hs.size();
    r.body = (route.flags & MESH_ROUTE_STREAM) ? mesh_str{nullptr, 0} : v_(body);
    std::string peer = member ? "mesh:fakepeer" : "";
    r.peer_id = v_(peer);
    r.remote = v_("127.0.0.1:1");
    r.params = ps.data();
    r.param_count = ps.size();
    route.fn(route.user, &r);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [&] { return call->done; });
    calls_.erase(id);
    return call->response;
  }

  FakeCliReply cli(const std::string& verb, const std::vector<std::string>& args = {},
                   bool json = false, std::chrono::milliseconds wait = std::chrono::seconds(10)) {
    Verb v;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = verbs_.find(verb);
      if (it == verbs_.end()) return FakeCliReply{true, 2, "unknown verb " + verb, {}};
      v = it->second;
    }
    auto call = std::make_shared<CliCallState>();
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      id = next_id_++;
      cli_calls_[id] = call;
    }
    std::vector<mesh_str> argv;
    for (const auto& a : args) argv.push_back(v_(a));
    mesh_cli_request r{};
    r.struct_size = sizeof r;
    r.json = json ? 1u : 0u;
    r.call_id = id;
    r.argv = argv.data();
    r.argc = argv.size();
    v.fn(v.user, &r);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [&] { return call->reply.answered; });
    cli_calls_.erase(id);
    return call->reply;
  }

  // Moves the fake clock forward, running every timer that falls due, in order of due time.
  void advance(std::chrono::milliseconds by) {
    uint64_t target = now_ms_ + static_cast<uint64_t>(by.count());
    for (;;) {
      Timer t;
      uint64_t id = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto best = timers_.end();
        for (auto it = timers_.begin(); it != timers_.end(); ++it)
          if (it->second.due <= target && (best == timers_.end() || it->second.due < best->second.due))
            best = it;
        if (best == timers_.end()) break;
        id = best->first;
        t = best->second;
        now_ms_ = t.due;
        if (t.repeat)
          best->second.due = t.due + t.interval;
        else
          timers_.erase(best);
      }
      t.fn(t.user, id);
    }
    now_ms_ = target;
  }

  // An event as if it came from another member (or this node, origin "" = self).
  void inject(FakeEvent e) { locked([&] { queue_.push_back(std::move(e)); }); }
  // Delivers queued events to matching subscriptions, oldest first; an event a handler refuses
  // (non-zero) stays queued for the next deliver(). Returns how many were handled.
  std::size_t deliver() {
    std::size_t handled = 0;
    std::vector<FakeEvent> pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending.swap(queue_);
    }
    std::vector<FakeEvent> keep;
    for (auto& e : pending) {
      bool ok = true;
      std::vector<Sub> subs;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& [name, s] : subs_)
          if (matches(s.pattern, e.topic)) subs.push_back(s);
      }
      for (const auto& s : subs) {
        mesh_event ev{};
        ev.struct_size = sizeof ev;
        ev.flags = e.seq == 0 ? MESH_EVENT_EPHEMERAL : 0u;
        ev.origin = v_(e.origin);
        ev.seq = e.seq;
        ev.lamport = e.lamport;
        ev.wall_ms = e.wall_ms;
        ev.topic = v_(e.topic);
        ev.payload = v_(e.payload);
        if (s.fn(s.user, &ev) != MESH_OK) ok = false;
      }
      if (ok)
        ++handled;
      else if (e.seq != 0)
        keep.push_back(std::move(e));
    }
    std::lock_guard<std::mutex> lock(mu_);
    queue_.insert(queue_.begin(), keep.begin(), keep.end());
    return handled;
  }

  // Runs a job on a runner the plugin registered, on a thread of its own, and waits for it.
  FakeJobResult run_job(const std::string& runner, const FakeJob& job,
                        std::chrono::milliseconds wait = std::chrono::seconds(30)) {
    RunnerEntry r;
    uint64_t id = 0;
    auto state = std::make_shared<JobState>();
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = runners_.find(runner);
      if (it == runners_.end()) return FakeJobResult{true, MESH_JOB_ERROR, -1, "no runner " + runner, {}};
      r = it->second;
      id = next_id_++;
      state->runner = runner;
      jobs_[id] = state;
    }
    std::thread t([r, id, job] {
      std::vector<mesh_str> cmds;
      for (const auto& c : job.commands) cmds.push_back(v_(c));
      std::vector<mesh_kv> env, sec;
      for (const auto& [n, v] : job.env) env.push_back({v_(n), v_(v)});
      for (const auto& [n, v] : job.secrets) sec.push_back({v_(n), v_(v)});
      mesh_job j{};
      j.struct_size = sizeof j;
      j.job_id = id;
      j.run_id = v_(job.run_id);
      j.job_name = v_(job.job_name);
      j.repo = v_(job.repo);
      j.sha = v_(job.sha);
      j.mode = v_(job.mode);
      j.image = v_(job.image);
      j.workdir = v_(job.workdir);
      j.commands = cmds.data();
      j.command_count = cmds.size();
      j.env = env.data();
      j.env_count = env.size();
      j.secrets = sec.data();
      j.secret_count = sec.size();
      j.timeout_ms = job.timeout_ms;
      r.run(r.user, &j);
    });
    FakeJobResult out;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, wait, [&] { return state->result.done; });
      out = state->result;
    }
    if (!out.done) {  // stop it the way the daemon would, then wait for run() to return
      r.cancel(r.user, id);
    }
    t.join();
    std::lock_guard<std::mutex> lock(mu_);
    out = state->result;
    jobs_.erase(id);
    return out;
  }
  // Asks a running job to stop, as the host does on a cancel or a timeout.
  void cancel_job(const std::string& runner, uint64_t job_id) {
    RunnerEntry r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = runners_.find(runner);
      if (it == runners_.end()) return;
      r = it->second;
    }
    r.cancel(r.user, job_id);
  }

  // ---- what the plugin did ----
  std::vector<std::string> logs() const { return copy([&] { return logs_; }); }
  std::vector<FakeEvent> published() const { return copy([&] { return published_; }); }
  std::string heartbeat() const { return copy([&] { return heartbeat_; }); }
  std::string status_json() const { return copy([&] { return status_json_; }); }
  std::string status_text() const { return copy([&] { return status_text_; }); }
  std::string status_html() const { return copy([&] { return status_html_; }); }
  std::vector<std::string> verbs() const {
    return copy([&] {
      std::vector<std::string> v;
      for (const auto& [n, x] : verbs_) v.push_back(n);
      return v;
    });
  }
  std::vector<std::string> runners() const {
    return copy([&] {
      std::vector<std::string> v;
      for (const auto& [n, x] : runners_) v.push_back(n);
      return v;
    });
  }
  std::vector<FakePage> pages() const { return copy([&] { return pages_; }); }
  std::vector<std::pair<std::string, std::string>> sse() const { return copy([&] { return sse_; }); }
  std::size_t timer_count() const { return copy([&] { return timers_.size(); }); }
  uint64_t now_ms() const { return now_ms_; }

 private:
  struct Route {
    std::string method, path;
    uint32_t flags = 0;
    uint64_t max_body = 0;
    mesh_http_handler fn = nullptr;
    void* user = nullptr;
  };
  struct Verb {
    mesh_cli_handler fn = nullptr;
    void* user = nullptr;
  };
  struct Timer {
    uint64_t due = 0, interval = 0;
    bool repeat = false;
    mesh_timer_fn fn = nullptr;
    void* user = nullptr;
  };
  struct Sub {
    std::string pattern;
    mesh_event_handler fn = nullptr;
    void* user = nullptr;
  };
  struct Call {
    std::string body;
    std::size_t read_off = 0;
    bool begun = false, done = false;
    FakeHttpResponse response;
  };
  struct CliCallState {
    FakeCliReply reply;
  };
  struct RunnerEntry {
    void (*run)(void*, const mesh_job*) = nullptr;
    void (*cancel)(void*, uint64_t) = nullptr;
    void* user = nullptr;
    std::vector<std::string> modes;
  };
  struct JobState {
    std::string runner;
    FakeJobResult result;
    mesh_job_sink sink{};
  };

  void join_jobs() {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(job_threads_);
    }
    for (auto& t : threads) t.join();
  }

  static mesh_str v_(std::string_view s) { return mesh_str{s.data(), s.size()}; }
  static std::string s_(mesh_str s) { return s.ptr ? std::string(s.ptr, s.len) : std::string(); }
  static FakeHost* self(void* ctx) { return static_cast<FakeHost*>(ctx); }

  void fail(std::string e) { error_ = std::move(e); }
  bool usable() const {
    std::lock_guard<std::mutex> lock(mu_);
    return !stopped_;
  }

  static int32_t copy_out(const std::string& v, char* buf, size_t cap, size_t* needed) {
    if (needed) *needed = v.size();
    if (cap < v.size()) return MESH_E_LIMIT;
    if (!v.empty()) std::memcpy(buf, v.data(), v.size());
    if (cap > v.size()) buf[v.size()] = '\0';
    return MESH_OK;
  }
  static void set_err(char* err, size_t cap, const std::string& m) {
    if (err && cap) std::snprintf(err, cap, "%s", m.c_str());
  }

  // The daemon's matching rules: plain paths are prefixes (path or path/...), paths with
  // {name} segments match exactly, a {name...} tail takes the rest; literal > capture > tail.
  static std::vector<std::string> split(const std::string& p) {
    std::vector<std::string> out;
    std::size_t i = 1;
    while (i <= p.size()) {
      auto j = p.find('/', i);
      if (j == std::string::npos) j = p.size();
      if (j > i) out.push_back(p.substr(i, j - i));
      i = j + 1;
    }
    return out;
  }
  static bool match_one(const std::string& pattern, const std::string& path, int* score,
                        std::vector<std::pair<std::string, std::string>>* params) {
    auto pat = split(pattern), got = split(path);
    bool is_pattern = pattern.find('{') != std::string::npos;
    *score = 0;
    params->clear();
    for (std::size_t i = 0; i < pat.size(); ++i) {
      const std::string& seg = pat[i];
      bool capture = seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
      bool tail = capture && seg.size() > 5 && seg.compare(seg.size() - 4, 4, "...}") == 0;
      if (tail) {
        if (got.size() <= i) return false;
        std::string rest;
        for (std::size_t k = i; k < got.size(); ++k) rest += (k > i ? "/" : "") + got[k];
        params->emplace_back(seg.substr(1, seg.size() - 5), rest);
        *score += 1;
        return true;
      }
      if (got.size() <= i) return false;
      if (capture) {
        params->emplace_back(seg.substr(1, seg.size() - 2), got[i]);
        *score += 2;
      } else {
        if (seg != got[i]) return false;
        *score += 3;
      }
    }
    return is_pattern ? got.size() == pat.size() : true;
  }
  static bool matches(const std::string& pattern, const std::string& topic) {
    if (pattern == "*") return true;
    return topic == pattern ||
           (topic.size() > pattern.size() && topic.compare(0, pattern.size(), pattern) == 0 &&
            topic[pattern.size()] == '.');
  }
  bool find_route(const std::string& method, const std::string& path, Route* out,
                  std::vector<std::pair<std::string, std::string>>* params) {
    std::lock_guard<std::mutex> lock(mu_);
    int best = -1;
    for (const auto& r : routes_) {
      if (r.method != "*" && r.method != method) continue;
      int score = 0;
      std::vector<std::pair<std::string, std::string>> ps;
      if (!match_one(r.path, path, &score, &ps)) continue;
      score = score * 2 + (r.method == method ? 1 : 0);
      if (score > best) {
        best = score;
        *out = r;
        *params = ps;
      }
    }
    return best >= 0;
  }

  void answer(uint64_t id, FakeHttpResponse res) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(id);
    if (it == calls_.end() || it->second->done) return;
    it->second->response = std::move(res);
    it->second->response.answered = true;
    it->second->done = true;
    cv_.notify_all();
  }

  // ---- the host table ----
  static void h_log(void* ctx, uint32_t level, mesh_str m) {
    static const char* names[] = {"trace", "debug", "info", "warn", "error"};
    self(ctx)->locked([&] {
      self(ctx)->logs_.push_back(std::string(level <= 4 ? names[level] : "error") + ": " + s_(m));
    });
  }
  static int32_t h_config(void* ctx, char* b, size_t c, size_t* n) {
    return copy_out(self(ctx)->copy([&] { return self(ctx)->config_; }), b, c, n);
  }
  static int32_t h_data_dir(void* ctx, char* b, size_t c, size_t* n) {
    return copy_out(self(ctx)->data_dir_, b, c, n);
  }
  static int32_t h_route2(void* ctx, mesh_str method, mesh_str path, uint64_t max_body,
                          uint32_t flags, mesh_http_handler fn, void* user, char* err, size_t cap) {
    auto* h = self(ctx);
    std::lock_guard<std::mutex> lock(h->mu_);
    if (h->stopping_) return set_err(err, cap, "stopping"), MESH_E_STATE;
    for (const auto& r : h->routes_)
      if (r.method == s_(method) && r.path == s_(path))
        return set_err(err, cap, "route exists"), MESH_E_EXISTS;
    h->routes_.push_back(Route{s_(method), s_(path), flags, max_body, fn, user});
    return MESH_OK;
  }
  static int32_t h_route(void* ctx, mesh_str method, mesh_str path, uint64_t max_body,
                         mesh_http_handler fn, void* user, char* err, size_t cap) {
    return h_route2(ctx, method, path, max_body, 0, fn, user, err, cap);
  }
  static int32_t h_respond(void* ctx, uint64_t id, const mesh_http_response* r) {
    if (!r) return MESH_E_INVALID;
    FakeHttpResponse res;
    res.status = r->status;
    for (size_t i = 0; i < r->header_count; ++i)
      res.headers.emplace_back(s_(r->headers[i].name), s_(r->headers[i].value));
    res.body = s_(r->body);
    self(ctx)->answer(id, std::move(res));
    return MESH_OK;
  }
  static int32_t h_verb(void* ctx, mesh_str verb, mesh_str, mesh_cli_handler fn, void* user,
                        char* err, size_t cap) {
    auto* h = self(ctx);
    std::lock_guard<std::mutex> lock(h->mu_);
    if (h->verbs_.count(s_(verb))) return set_err(err, cap, "verb exists"), MESH_E_EXISTS;
    h->verbs_[s_(verb)] = Verb{fn, user};
    return MESH_OK;
  }
  static int32_t h_cli_respond(void* ctx, uint64_t id, int32_t code, mesh_str out) {
    auto* h = self(ctx);
    std::lock_guard<std::mutex> lock(h->mu_);
    auto it = h->cli_calls_.find(id);
    if (it == h->cli_calls_.end() || it->second->reply.answered) return MESH_E_NOT_FOUND;
    it->second->reply.exit_code = code;
    it->second->reply.output = s_(out);
    it->second->reply.answered = true;
    h->cv_.notify_all();
    return MESH_OK;
  }
  static int32_t h_cli_chunk(void* ctx, uint64_t id, mesh_str text) {
    auto* h = self(ctx);
    std::lock_guard<std::mutex> lock(h->mu_);
    auto it = h->cli_calls_.find(id);
    if (it == h->cli_calls_.end() || it->second->reply.answered) return MESH_E_NOT_FOUND;
    it->second->reply.chunks.push_back(s_(text));
    return MESH_OK;
  }
  static int32_t h_timer_start(void* ctx, uint64_t ms, uint32_t repeat, mesh_timer_fn fn,
                               void* user, uint64_t* id) {
    auto* h = self(ctx);
    if (!fn || !id || (repeat && ms == 0)) return MESH_E_INVALID;
    std::lock_guard<std::mutex> lock(h->mu_);
    if (h->stopping_) return MESH_E_STATE;
    *id = h->next_id_++;
    h->timers_[*id] = Timer{h->now_ms_ + ms, ms, repeat != 0, fn, user};
    return MESH_OK;
  }
  static int32_t h_timer_cancel(void* ctx, uint64_t id) {
    auto* h = self(ctx);
    std::lock_guard<std::mutex> lock(h->mu_);
    return h->timers_.erase(id) ? MESH_OK : MESH_E_NOT_FOUND;
  }
  static int32_t h_publish(void* ctx, mesh_str topic, mesh_str payload, uint64_t* seq, char*,
                           size_t) {
    auto* h = self(ctx);
    if (payload.len > 64 * 1024) return MESH_E_LIMIT;
    std::string t = s_(topic);
    bool ephemeral = t == "heartbeat" || t == "presence" ||
                     (t.size() > 5 && t.compare(t.size() - 5, 5, ".live") == 0) ||
                     t.rfind("local.", 0) == 0;
    std::lock_guard<std::mutex> lock(h->mu_);
    FakeEvent e{"", t, s_(payload), ephemeral ? 0 : ++h->seq_, ++h->lamport_, h->now_ms_};
    if (seq) *seq = e.seq;
    h->published_.push_back(e);
    h->queue_.push_back(std::move(e));  // this node's subscribers see its own events too
    return MESH_OK;
  }
  static int32_t h_subscribe(void* ctx, mesh_str name, mesh_str pattern, mesh_event_handler fn,
                             void* user, char* err, size_t cap) {
    auto* h = self(ctx);
    std::lock_guard<std::mutex> lock(h->mu_);
    if (h->subs_.count(s_(name))) return set_err(err, cap, "subscription exists"), MESH_E_EXISTS;
    h->subs_[s_(name)] = Sub{s_(pattern), fn, user};
    return MESH_OK;
  }
  static int32_t h_unsubscribe(void* ctx, mesh_str name) {
    auto* h = self(ctx);
    std::lock_guard<std::mutex> lock(h->mu_);
    return h->subs_.erase(s_(name)) ? MESH_OK : MESH_E_NOT_FOUND;
  }
  static int32_t h_peers(void* ctx, char* b, size_t c, size_t* n) {
    return copy_out(self(ctx)->copy([&] { return self(ctx)->peers_; }), b, c, n);
  }
  static int32_t h_self(void* ctx, char* b, size_t c, size_t* n) {
    return copy_out(self(ctx)->copy([&] { return self(ctx)->self_; }), b, c, n);
  }
  static std::shared_ptr<Call> call_of(void* ctx, uint64_t id) {
    auto* h = self(ctx);
    std::lock_guard<std::mutex> lock(h->mu_);
    auto it = h->calls_.find(id);
    return it == h->calls_.end() ? nullptr : it->second;
  }
  static int32_t h_read(void* ctx, uint64_t id, char* buf, size_t cap, size_t* got) {
    auto c = call_of(ctx, id);
    if (!got) return MESH_E_INVALID;
    *got = 0;
    if (!c) return MESH_E_NOT_FOUND;
    std::lock_guard<std::mutex> lock(self(ctx)->mu_);
    std::size_t n = std::min(cap, c->body.size() - c->read_off);
    if (n) std::memcpy(buf, c->body.data() + c->read_off, n);
    c->read_off += n;
    *got = n;
    return MESH_OK;
  }
  static int32_t h_begin(void* ctx, uint64_t id, uint32_t status, const mesh_http_header* hs,
                         size_t n) {
    auto c = call_of(ctx, id);
    if (!c) return MESH_E_NOT_FOUND;
    std::lock_guard<std::mutex> lock(self(ctx)->mu_);
    if (c->begun) return MESH_E_STATE;
    c->begun = true;
    c->response.status = status;
    for (size_t i = 0; i < n; ++i) c->response.headers.emplace_back(s_(hs[i].name), s_(hs[i].value));
    return MESH_OK;
  }
  static int32_t h_write(void* ctx, uint64_t id, mesh_str data) {
    auto c = call_of(ctx, id);
    if (!c) return MESH_E_NOT_FOUND;
    std::lock_guard<std::mutex> lock(self(ctx)->mu_);
    if (!c->begun) return MESH_E_STATE;
    c->response.body += s_(data);
    return MESH_OK;
  }
  static int32_t h_end(void* ctx, uint64_t id, uint32_t ok) {
    auto c = call_of(ctx, id);
    if (!c) return MESH_E_NOT_FOUND;
    FakeHttpResponse res;
    {
      std::lock_guard<std::mutex> lock(self(ctx)->mu_);
      res = c->response;
      if (!c->begun) res.status = 500;
      if (!ok) res.status = 0;  // aborted: the client saw a truncated response
    }
    self(ctx)->answer(id, std::move(res));
    return MESH_OK;
  }
  static int32_t h_peer_connect(void*, mesh_str, mesh_str, uint32_t, uint64_t* conn, char* err,
                                size_t cap) {
    if (conn) *conn = 0;
    set_err(err, cap, "the fake host has no peers to connect to");
    return MESH_E_UNSUPPORTED;
  }
  static int32_t h_peer_read(void*, uint64_t, char*, size_t, size_t* got) {
    if (got) *got = 0;
    return MESH_E_NOT_FOUND;
  }
  static int32_t h_peer_write(void*, uint64_t, mesh_str) { return MESH_E_NOT_FOUND; }
  static int32_t h_peer_close(void*, uint64_t) { return MESH_E_NOT_FOUND; }
  static int32_t h_heartbeat(void* ctx, mesh_str json) {
    if (json.len > 8 * 1024) return MESH_E_LIMIT;
    self(ctx)->locked([&] { self(ctx)->heartbeat_ = s_(json); });
    return MESH_OK;
  }
  static int32_t h_repos_dir(void* ctx, char* b, size_t c, size_t* n) {
    return copy_out(self(ctx)->copy([&] { return self(ctx)->repos_dir_; }), b, c, n);
  }
  static int32_t h_status_set(void* ctx, const mesh_status* s) {
    self(ctx)->locked([&] {
      auto* h = self(ctx);
      h->status_json_ = s ? s_(s->json) : "";
      h->status_text_ = s ? s_(s->text) : "";
      h->status_html_ = s ? s_(s->html) : "";
    });
    return MESH_OK;
  }
  static int32_t h_ui_render(void*, mesh_str, mesh_str, mesh_write_fn, void*, char* err,
                             size_t cap) {
    set_err(err, cap, "the fake host has no template engine");
    return MESH_E_UNSUPPORTED;
  }
  static int32_t h_ui_respond(void* ctx, uint64_t id, const mesh_ui_page* p) {
    if (!p) return MESH_E_INVALID;
    FakePage page{p->status, s_(p->title), s_(p->repo), s_(p->tab), s_(p->body_html), s_(p->scripts)};
    self(ctx)->locked([&] { self(ctx)->pages_.push_back(page); });
    self(ctx)->answer(id, FakeHttpResponse{true, p->status, {{"Content-Type", "text/html"}},
                                           page.body_html});
    return MESH_OK;
  }
  static int32_t h_ui_asset(void*, mesh_str, mesh_str, mesh_str) { return MESH_OK; }
  static int32_t h_ui_nav(void*, mesh_str, mesh_str, mesh_str) { return MESH_OK; }
  static int32_t h_markdown(void*, mesh_str, mesh_str, mesh_str, mesh_write_fn, void*) {
    return MESH_E_UNSUPPORTED;
  }
  static int32_t h_sse(void* ctx, mesh_str channel, mesh_str, mesh_str data) {
    self(ctx)->locked([&] { self(ctx)->sse_.emplace_back(s_(channel), s_(data)); });
    return MESH_OK;
  }
  static int32_t h_runner_register(void* ctx, const mesh_runner* r, char* err, size_t cap) {
    auto* h = self(ctx);
    if (!r || !r->run || !r->cancel) return set_err(err, cap, "no runner"), MESH_E_INVALID;
    std::lock_guard<std::mutex> lock(h->mu_);
    if (h->runners_.count(s_(r->name))) return set_err(err, cap, "runner exists"), MESH_E_EXISTS;
    RunnerEntry e{r->run, r->cancel, r->user, {}};
    for (size_t i = 0; i < r->mode_count; ++i) e.modes.push_back(s_(r->modes[i]));
    h->runners_[s_(r->name)] = e;
    return MESH_OK;
  }
  static int32_t h_runner_unregister(void* ctx, mesh_str name) {
    auto* h = self(ctx);
    std::lock_guard<std::mutex> lock(h->mu_);
    return h->runners_.erase(s_(name)) ? MESH_OK : MESH_E_NOT_FOUND;
  }
  static int32_t h_job_log(void* ctx, uint64_t id, mesh_str data) {
    auto* h = self(ctx);
    mesh_job_sink sink{};
    {
      std::lock_guard<std::mutex> lock(h->mu_);
      auto it = h->jobs_.find(id);
      if (it == h->jobs_.end() || it->second->result.done) return MESH_E_NOT_FOUND;
      it->second->result.log += s_(data);
      sink = it->second->sink;
    }
    if (sink.log) sink.log(sink.user, id, data);
    return MESH_OK;
  }
  static int32_t h_job_done(void* ctx, uint64_t id, uint32_t outcome, int32_t code, mesh_str why) {
    auto* h = self(ctx);
    mesh_job_sink sink{};
    {
      std::lock_guard<std::mutex> lock(h->mu_);
      auto it = h->jobs_.find(id);
      if (it == h->jobs_.end() || it->second->result.done) return MESH_E_NOT_FOUND;
      auto& r = it->second->result;
      r.done = true;
      r.outcome = outcome;
      r.exit_code = code;
      r.reason = s_(why);
      sink = it->second->sink;
      h->cv_.notify_all();
    }
    if (sink.done) sink.done(sink.user, id, outcome, code, why);
    return MESH_OK;
  }
  static int32_t h_runners_json(void* ctx, char* b, size_t c, size_t* n) {
    std::string out = "[";
    self(ctx)->locked([&] {
      for (const auto& [name, r] : self(ctx)->runners_) {
        if (out.size() > 1) out += ",";
        out += "{\"name\":\"" + name + "\",\"modes\":[";
        for (std::size_t i = 0; i < r.modes.size(); ++i)
          out += (i ? ",\"" : "\"") + r.modes[i] + "\"";
        out += "]}";
      }
    });
    out += "]";
    return copy_out(out, b, c, n);
  }
  static int32_t h_job_submit(void* ctx, mesh_str runner, const mesh_job* job,
                              const mesh_job_sink* sink, uint64_t* job_id, char* err, size_t cap) {
    auto* h = self(ctx);
    if (!job || !sink || !job_id) return MESH_E_INVALID;
    RunnerEntry r;
    auto state = std::make_shared<JobState>();
    state->sink = *sink;
    state->runner = s_(runner);
    Headers secrets;
    {
      std::lock_guard<std::mutex> lock(h->mu_);
      auto it = h->runners_.find(s_(runner));
      if (it == h->runners_.end()) return set_err(err, cap, "no such runner"), MESH_E_NOT_FOUND;
      r = it->second;
      bool mode_ok = false;
      for (const auto& m : r.modes) mode_ok = mode_ok || m == s_(job->mode);
      if (!mode_ok) return set_err(err, cap, "the runner does not run this mode"), MESH_E_INVALID;
      for (size_t i = 0; i < job->secret_count; ++i) {
        std::string name = s_(job->secrets[i].name);
        bool found = false;
        for (const auto& [n, v] : h->secrets_)
          if (n == name) secrets.emplace_back(n, v), found = true;
        if (!found) return set_err(err, cap, "secret " + name + " is not defined"), MESH_E_NOT_FOUND;
      }
      *job_id = h->next_id_++;
      h->jobs_[*job_id] = state;
    }
    // The job description is borrowed: copy it for the job's thread.
    FakeJob copy;
    copy.run_id = s_(job->run_id);
    copy.job_name = s_(job->job_name);
    copy.mode = s_(job->mode);
    copy.image = s_(job->image);
    copy.workdir = s_(job->workdir);
    copy.commands.clear();
    for (size_t i = 0; i < job->command_count; ++i) copy.commands.push_back(s_(job->commands[i]));
    for (size_t i = 0; i < job->env_count; ++i)
      copy.env.emplace_back(s_(job->env[i].name), s_(job->env[i].value));
    copy.secrets = std::move(secrets);
    uint64_t id = *job_id;
    std::thread t([r, id, copy] {
      std::vector<mesh_str> cmds;
      for (const auto& c : copy.commands) cmds.push_back(v_(c));
      std::vector<mesh_kv> env, sec;
      for (const auto& [n, v] : copy.env) env.push_back({v_(n), v_(v)});
      for (const auto& [n, v] : copy.secrets) sec.push_back({v_(n), v_(v)});
      mesh_job j{};
      j.struct_size = sizeof j;
      j.job_id = id;
      j.run_id = v_(copy.run_id);
      j.job_name = v_(copy.job_name);
      j.mode = v_(copy.mode);
      j.image = v_(copy.image);
      j.workdir = v_(copy.workdir);
      j.commands = cmds.data();
      j.command_count = cmds.size();
      j.env = env.data();
      j.env_count = env.size();
      j.secrets = sec.data();
      j.secret_count = sec.size();
      r.run(r.user, &j);
    });
    std::lock_guard<std::mutex> lock(h->mu_);
    h->job_threads_.push_back(std::move(t));  // joined by stop() and the destructor
    return MESH_OK;
  }
  static int32_t h_job_cancel(void* ctx, uint64_t id) {
    auto* h = self(ctx);
    RunnerEntry r;
    {
      std::lock_guard<std::mutex> lock(h->mu_);
      auto it = h->jobs_.find(id);
      if (it == h->jobs_.end() || it->second->result.done) return MESH_E_NOT_FOUND;
      auto rit = h->runners_.find(it->second->runner);
      if (rit == h->runners_.end()) return MESH_E_NOT_FOUND;
      r = rit->second;
    }
    r.cancel(r.user, id);
    return MESH_OK;
  }

  void init_table() {
    host_ = mesh_host{};
    host_.struct_size = sizeof(mesh_host);
    host_.abi_major = MESH_ABI_MAJOR;
    host_.abi_minor = MESH_ABI_MINOR;
    host_.ctx = this;
    host_.log = &h_log;
    host_.config_json = &h_config;
    host_.data_dir = &h_data_dir;
    host_.http_route = &h_route;
    host_.http_respond = &h_respond;
    host_.cli_verb = &h_verb;
    host_.cli_respond = &h_cli_respond;
    host_.timer_start = &h_timer_start;
    host_.timer_cancel = &h_timer_cancel;
    host_.cli_chunk = &h_cli_chunk;
    host_.publish = &h_publish;
    host_.subscribe = &h_subscribe;
    host_.unsubscribe = &h_unsubscribe;
    host_.peers_json = &h_peers;
    host_.self_json = &h_self;
    host_.http_route2 = &h_route2;
    host_.http_read = &h_read;
    host_.http_begin = &h_begin;
    host_.http_write = &h_write;
    host_.http_end = &h_end;
    host_.peer_connect = &h_peer_connect;
    host_.peer_read = &h_peer_read;
    host_.peer_write = &h_peer_write;
    host_.peer_close = &h_peer_close;
    host_.heartbeat_set = &h_heartbeat;
    host_.repos_dir = &h_repos_dir;
    host_.status_set = &h_status_set;
    host_.ui_render = &h_ui_render;
    host_.ui_respond = &h_ui_respond;
    host_.ui_asset = &h_ui_asset;
    host_.ui_nav = &h_ui_nav;
    host_.markdown_render = &h_markdown;
    host_.sse_publish = &h_sse;
    host_.runner_register = &h_runner_register;
    host_.runner_unregister = &h_runner_unregister;
    host_.job_log = &h_job_log;
    host_.job_done = &h_job_done;
    host_.runners_json = &h_runners_json;
    host_.job_submit = &h_job_submit;
    host_.job_cancel = &h_job_cancel;
  }

  mesh_host host_{};
  const mesh_plugin_descriptor* desc_ = nullptr;
  void* instance_ = nullptr;
  bool running_ = false;
  std::string error_;
  std::string data_dir_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false, stopped_ = false;
  std::string config_ = "{}";
  std::string self_ = R"({"name":"fake","id":"mesh:fakenode"})";
  std::string peers_ = "[]";
  std::string repos_dir_ = "/nonexistent/repos";
  std::vector<Route> routes_;
  std::map<std::string, Verb> verbs_;
  std::map<uint64_t, Timer> timers_;
  std::map<std::string, Sub> subs_;
  std::map<uint64_t, std::shared_ptr<Call>> calls_;
  std::map<uint64_t, std::shared_ptr<CliCallState>> cli_calls_;
  std::map<std::string, RunnerEntry> runners_;
  std::map<uint64_t, std::shared_ptr<JobState>> jobs_;
  std::vector<std::thread> job_threads_;
  Headers secrets_;
  std::vector<FakeEvent> queue_, published_;
  std::vector<std::string> logs_;
  std::vector<FakePage> pages_;
  std::vector<std::pair<std::string, std::string>> sse_;
  std::string heartbeat_, status_json_, status_text_, status_html_;
  std::atomic<uint64_t> now_ms_{0};
  uint64_t next_id_ = 1, seq_ = 0, lamport_ = 0;
};

}  // namespace mesh::sdk::testing

#endif  // MESH_FAKE_HOST_HPP
