// The replication plugin's ABI glue: routes, verbs, subscriptions and timers on one side, the
// SDK-free Replicator / Mirrors / GitService on the other.
#include <algorithm>
#include <boost/json.hpp>
#include <exception>
#include <filesystem>
#include <list>
#include <memory>
#include <system_error>
#include <thread>

#include "git_service.hpp"
#include "mesh/plugin.hpp"
#include "mirror.hpp"
#include "names.hpp"
#include "replicator.hpp"
#include "tls_stream.hpp"

namespace mesh::repl {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

std::uint64_t setting(const json::object& cfg, std::string_view key, std::uint64_t dflt,
                      std::uint64_t max) {
  auto* v = cfg.if_contains(key);
  if (!v) return dflt;
  if (auto* i = v->if_int64(); i && *i >= 0 && static_cast<std::uint64_t>(*i) <= max) {
    return static_cast<std::uint64_t>(*i);
  }
  throw sdk::Error(MESH_E_INVALID, "[plugins.replication] " + std::string(key) +
                                       " must be an integer from 0 to " + std::to_string(max));
}

// libgit2 keeps per-thread error state, freed when the thread ends (a destructor inside
// libgit2) or, for the thread that shuts libgit2 down, at shutdown. Host threads outlive the
// plugin, so state they allocated would leak at unload (LeakSanitizer saw it): every libgit2
// call runs on a thread this plugin owns and joins. This runs fn on one, and waits.
template <class F>
void on_own_thread(F&& fn) {
  std::exception_ptr failure;
  std::thread t([&] {
    try {
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  t.join();
  if (failure) std::rethrow_exception(failure);
}

// A connection made by the daemon (ABI 1.2 peer_connect), for the libgit2 TLS stream.
class HostConn final : public Conn {
 public:
  explicit HostConn(sdk::PeerConn conn) : conn_(std::move(conn)) {}
  long read(char* buf, std::size_t cap) override { return static_cast<long>(conn_.read(buf, cap)); }
  long write(const char* buf, std::size_t len) override {
    return conn_.write(std::string_view(buf, len)) == MESH_OK ? static_cast<long>(len) : -1;
  }
  void close() override { conn_.close(); }

 private:
  sdk::PeerConn conn_;
};

// A streamed HTTP call (ABI 1.2) as the GitService sees it. A call left open is aborted.
class CallIo final : public HttpIo {
 public:
  explicit CallIo(sdk::HttpStream s) : s_(std::move(s)) {}
  ~CallIo() override {
    if (!ended_) s_.end(false);
  }
  int read(char* buf, std::size_t cap, std::size_t* got) override { return s_.read(buf, cap, got); }
  int begin(unsigned status,
            const std::vector<std::pair<std::string, std::string>>& headers) override {
    return s_.begin(status, headers);
  }
  int write(std::string_view data) override { return s_.write(data); }
  int end(bool ok) override {
    ended_ = true;
    return s_.end(ok);
  }
  int respond(unsigned status, std::string_view content_type, std::string_view body) override {
    sdk::HttpResponse r;
    r.status = status;
    r.headers.emplace_back("Content-Type", std::string(content_type));
    r.body = std::string(body);
    ended_ = true;
    return s_.respond(r);
  }

 private:
  sdk::HttpStream s_;
  bool ended_ = false;
};

class Replication final : public sdk::Plugin, public Services {
 public:
  void start() override {
    if (!host().has_abi_1_2()) {
      throw sdk::Error(MESH_E_UNSUPPORTED, "replication needs a daemon with ABI 1.2");
    }
    auto cfg_value = json::parse(host().config_json());
    const json::object empty;
    const json::object& cfg = cfg_value.is_object() ? cfg_value.as_object() : empty;
    // A typo must not leave a setting at its default without a word (as in the core tables).
    for (const auto& [key, value] : cfg) {
      if (key != "push_wait_ms" && key != "max_git_processes" && key != "max_push_bytes" &&
          key != "repos_dir") {
        throw sdk::Error(MESH_E_INVALID,
                         "[plugins.replication] has no setting '" + std::string(key) +
                             "' (known: push_wait_ms, max_git_processes, max_push_bytes, "
                             "repos_dir)");
      }
    }
    push_wait_ = std::chrono::milliseconds(setting(cfg, "push_wait_ms", 3000, 60'000));
    fs::path data = host().data_dir();
    fs::path repos =
        data.parent_path().parent_path() / "repos";  // <root>/data/<id> -> <root>/repos
    if (auto* v = cfg.if_contains("repos_dir")) {
      if (!v->is_string() || v->as_string().empty()) {
        throw sdk::Error(MESH_E_INVALID, "[plugins.replication] repos_dir must be a path");
      }
      repos = std::string(v->as_string());
    }
    self_id_ = json::parse(host().self_json()).as_object().at("id").as_string().c_str();

    mirrors_ = std::make_unique<Mirrors>(repos);
    GitServiceOptions gopts;
    gopts.repos_dir = repos;
    gopts.max_processes = setting(cfg, "max_git_processes", 8, 256);
    gopts.max_request_bytes = setting(cfg, "max_push_bytes", 2ull << 30, 64ull << 30);
    git_ = std::make_unique<GitService>(gopts);
    ReplicatorOptions ropts;
    ropts.state_dir = data;
    ropts.self_id = self_id_;
    replicator_ = std::make_unique<Replicator>(*mirrors_, *this, ropts);

    const sdk::Host host_handle = host();
    install_tls_stream([host_handle](const std::string& host_port, const std::string& peer,
                                     std::string* err) -> std::unique_ptr<Conn> {
      sdk::PeerConn conn;
      std::string why;
      if (conn.connect(host_handle, host_port, peer, 30'000, &why) != MESH_OK) {
        *err = "connecting to " + host_port + ": " + why;
        return nullptr;
      }
      return std::make_unique<HostConn>(std::move(conn));
    });
    on_own_thread([this] { replicator_->start(); });

    // Every path below "/" (the status page itself is the core's, an exact route): the
    // handler tells git paths from the rest.
    for (const char* method : {"GET", "POST"}) {
      stream_route(
          method, "/",
          [this](const sdk::HttpRequest& r, sdk::HttpStream s) { git_request(r, std::move(s)); },
          gopts.max_request_bytes);
    }
    route(
        "GET", "/repos", [this](const sdk::HttpRequest& r) { on_own_thread([&] { page(r); }); }, 0,
        MESH_ROUTE_LOCAL);
    verb("repos", "the mirrors with their refs and divergences",
         [this](const sdk::CliRequest& r) { on_own_thread([&] { repos_verb(r); }); });
    verb("repos-sync", "compare and fetch repos with every member now (used by mesh sync)",
         [this](const sdk::CliRequest& r) { on_own_thread([&] { sync_verb(r); }); });
    subscribe("refs-apply", kRefsTopic, [this](const sdk::Event& e) {
      return replicator_->on_refs(std::string(e.origin()), e.payload());
    });
    subscribe("refs-ack", kAckTopic, [this](const sdk::Event& e) {
      replicator_->on_ack(std::string(e.origin()), e.payload());
      return true;
    });
    timer(std::chrono::seconds(5), true,
          [this] { on_own_thread([this] { replicator_->anti_entropy(); }); });
  }

  void stop() override {
    if (replicator_) replicator_->stop();
    uninstall_tls_stream();
    // Git requests still running end with their calls (the host aborted them on stop); their
    // threads are joined, so libgit2's per-thread cleanup has run before it is unloaded.
    std::unique_lock lock(mu_);
    if (!idle_.wait_for(lock, std::chrono::seconds(30), [this] { return active_ == 0; })) {
      Plugin::log(sdk::Level::error, std::to_string(active_) +
                                         " git requests did not end within 30 s of the stop; "
                                         "their threads are left running");
      for (auto& t : threads_) {
        if (t.joinable()) t.detach();
      }
      threads_.clear();
      return;
    }
    std::list<std::thread> all = std::move(threads_);
    lock.unlock();
    for (auto& t : all) t.join();
  }

  // ---- Services ----
  void log(Level level, const std::string& m) override {
    static constexpr sdk::Level map[] = {sdk::Level::debug, sdk::Level::info, sdk::Level::warn,
                                         sdk::Level::error};
    Plugin::log(map[level], m);
  }

  std::vector<PeerInfo> peers() override {
    std::vector<PeerInfo> out;
    boost::system::error_code ec;
    auto v = json::parse(host().peers_json(), ec);
    if (ec || !v.is_array()) return out;
    for (const auto& e : v.as_array()) {
      auto* o = e.if_object();
      if (!o) continue;
      PeerInfo p;
      if (auto* s = o->if_contains("id"); s && s->is_string()) p.id = s->as_string().c_str();
      if (auto* s = o->if_contains("name"); s && s->is_string()) p.name = s->as_string().c_str();
      if (auto* s = o->if_contains("state"); s && s->is_string()) p.up = s->as_string() == "up";
      if (auto* a = o->if_contains("addresses"); a && a->is_array()) {
        for (const auto& x : a->as_array()) {
          if (x.is_string()) p.addresses.emplace_back(x.as_string().c_str());
        }
      }
      auto* plugins = o->if_contains("plugins");
      auto* mine = plugins && plugins->is_object() ? plugins->as_object().if_contains("replication")
                                                   : nullptr;
      auto* repos = mine && mine->is_object() ? mine->as_object().if_contains("repos") : nullptr;
      if (repos && repos->is_object()) {
        p.has_digests = true;
        for (const auto& [name, d] : repos->as_object()) {
          if (d.is_string()) p.digests[std::string(name)] = d.as_string().c_str();
        }
      }
      if (!p.id.empty()) out.push_back(std::move(p));
    }
    return out;
  }

  bool publish(const std::string& topic, const std::string& payload, std::string* err) override {
    try {
      Plugin::publish(topic, payload);
      return true;
    } catch (const std::exception& e) {
      *err = e.what();
      return false;
    }
  }

  void set_heartbeat(const std::string& json) override {
    if (heartbeat_set(json) != MESH_OK) {
      Plugin::log(sdk::Level::warn, "the heartbeat refused the repo digests");
    }
  }

 private:
  // On the plugin executor: parse, then hand the blocking work to a thread of its own.
  void git_request(const sdk::HttpRequest& req, sdk::HttpStream stream) {
    std::string_view path = req.path();
    auto parsed = parse_git_path(path);
    if (!parsed) {
      CallIo io(std::move(stream));
      bool git_like = path.find(".git") != std::string_view::npos || path.ends_with("/info/refs") ||
                      path.ends_with("-pack");
      if (git_like) {
        io.respond(400, "text/plain; charset=utf-8",
                   "invalid repository name: use letters, digits, '.', '_' and '-' (at most 100, "
                   "starting with a letter or digit)\n");
      } else {
        io.respond(404, "text/plain; charset=utf-8", "not found\n");
      }
      return;
    }
    GitRequest g;
    g.path = *parsed;
    g.method = std::string(req.method());
    g.query = std::string(req.query());
    const mesh_http_request* raw = req.raw();
    for (size_t i = 0; i < raw->header_count; ++i) {
      g.headers.emplace_back(std::string(raw->headers[i].name.ptr, raw->headers[i].name.len),
                             std::string(raw->headers[i].value.ptr, raw->headers[i].value.len));
    }
    const sdk::HttpStream handle = stream;  // a plain handle: answers if no thread starts
    std::lock_guard lock(mu_);
    reap_locked();
    ++active_;
    try {
      threads_.emplace_back([this, stream = std::move(stream), g = std::move(g)]() mutable {
        serve_git(std::move(stream), std::move(g));
        std::lock_guard lock(mu_);
        --active_;
        finished_.push_back(std::this_thread::get_id());
        idle_.notify_all();
      });
    } catch (const std::system_error& e) {
      --active_;
      Plugin::log(sdk::Level::error, std::string("no thread for a git request: ") + e.what());
      handle.respond(sdk::HttpResponse::text(503, "no thread for this request, retry later\n"));
    }
  }

  // Joins the request threads that said they are done (each is past its last lock of mu_, so
  // joining under it cannot deadlock).
  void reap_locked() {
    for (auto id : finished_) {
      auto it = std::find_if(threads_.begin(), threads_.end(),
                             [&](const std::thread& t) { return t.get_id() == id; });
      if (it == threads_.end()) continue;
      it->join();
      threads_.erase(it);
    }
    finished_.clear();
  }

  void serve_git(sdk::HttpStream stream, GitRequest g) {
    CallIo io(std::move(stream));
    const std::string repo = g.path.repo;
    std::vector<RefUpdate> pushed;
    g.after_receive = [this, &repo, &pushed](const std::vector<RefUpdate>& updates) {
      pushed = updates;
      std::vector<RefChange> changes, replicable;
      std::string local_only;
      for (const auto& u : updates) {
        changes.push_back({u.ref, u.old_oid, u.new_oid});
        if (valid_ref_name(u.ref)) {
          replicable.push_back(changes.back());
        } else if (!u.ref.starts_with("refs/mesh/")) {
          local_only += (local_only.empty() ? "" : ", ") + u.ref;
        }
      }
      replicator_->pushed(repo, changes);
      std::string msg;
      if (!replicable.empty()) {
        msg = "mesh: " + replicator_->wait_replicated(repo, replicable, push_wait_);
      }
      if (!local_only.empty()) {
        // The pusher must hear that these stay here (the daemon log says it too).
        msg += std::string(msg.empty() ? "" : "\n") + "mesh: kept on this node only, not " +
               "replicated (unsafe ref names): " + local_only;
      }
      return msg;
    };
    ServeResult r = git_->serve(g, io);
    if (!r.log.empty()) {
      Plugin::log(r.status >= 500 || r.refused ? sdk::Level::warn : sdk::Level::info,
                  "git " + repo + ": " + r.log);
    }
    // A push whose client did not ask for a sideband still replicates.
    if (pushed.empty() && !r.updates.empty()) {
      std::vector<RefChange> changes;
      for (const auto& u : r.updates) changes.push_back({u.ref, u.old_oid, u.new_oid});
      replicator_->pushed(repo, changes);
    }
  }

  void repos_verb(const sdk::CliRequest& r) {
    if (!r.args().empty()) return void(r.reply(2, "usage: mesh repos [--json]\n"));
    std::string js = replicator_->repos_json();
    if (r.json()) return void(r.reply(0, js));
    auto v = json::parse(js).as_array();
    if (v.empty()) {
      return void(
          r.reply(0, "no repos yet: push one with git push https://localhost:PORT/NAME.git\n"));
    }
    std::string out = "REPO                 REFS  DIVERGENCES\n";
    std::string details;
    for (const auto& e : v) {
      const auto& o = e.as_object();
      std::string name = o.at("name").as_string().c_str();
      auto nrefs = o.at("refs").as_object().size();
      const auto& divs = o.at("divergences").as_array();
      char line[256];
      std::snprintf(line, sizeof line, "%-20s %5zu  %zu\n", name.c_str(), nrefs, divs.size());
      out += line;
      for (const auto& d : divs) {
        const auto& x = d.as_object();
        details += "\n" + name + ": " + std::string(x.at("ref").as_string()) + " diverged from " +
                   std::string(x.at("node").as_string()) + " (their tip " +
                   std::string(x.at("oid").as_string()).substr(0, 12) + ", parked as " +
                   std::string(x.at("parked_as").as_string()) +
                   ")\n  merge it:   " + std::string(x.at("resolve").as_string()) +
                   "\n  or drop it: " + std::string(x.at("discard").as_string()) + "\n";
      }
    }
    r.reply(0, out + details);
  }

  void sync_verb(const sdk::CliRequest& r) {
    std::string repo;
    if (r.args().size() > 1) return void(r.reply(2, "usage: mesh sync [REPO]\n"));
    if (r.args().size() == 1) {
      repo = std::string(r.args()[0]);
      if (!valid_repo_name(repo)) return void(r.reply(1, "invalid repo name: " + repo + "\n"));
    }
    std::size_t n = replicator_->sync_now(repo);
    replicator_->refresh_heartbeat();
    if (r.json())
      return void(r.reply(0, json::serialize(json::object{{"ok", true}, {"queued", n}})));
    r.reply(0, "queued " + std::to_string(n) + " repo comparisons with members that are up\n");
  }

  void page(const sdk::HttpRequest& r) {
    auto esc = [](std::string_view s) {
      std::string o;
      for (char c : s) {
        switch (c) {
          case '<':
            o += "&lt;";
            break;
          case '>':
            o += "&gt;";
            break;
          case '&':
            o += "&amp;";
            break;
          case '"':
            o += "&quot;";
            break;
          default:
            o += c;
        }
      }
      return o;
    };
    std::string html =
        "<!doctype html><meta charset=\"utf-8\"><title>mesh repos</title><h1>Repos</h1>";
    const json::value repos = json::parse(replicator_->repos_json());
    for (const auto& e : repos.as_array()) {
      const auto& o = e.as_object();
      html += "<h2>" + esc(o.at("name").as_string()) +
              "</h2><table><tr><th>ref</th><th>commit</th></tr>";
      for (const auto& [ref, oid] : o.at("refs").as_object()) {
        html +=
            "<tr><td>" + esc(ref) + "</td><td><code>" + esc(oid.as_string()) + "</code></td></tr>";
      }
      html += "</table>";
      for (const auto& d : o.at("divergences").as_array()) {
        const auto& x = d.as_object();
        html += "<p class=\"divergence\">" + esc(x.at("ref").as_string()) + " diverged from " +
                esc(x.at("node").as_string()) + ": <code>" + esc(x.at("resolve").as_string()) +
                "</code></p>";
      }
    }
    r.respond(sdk::HttpResponse::html(200, html));
  }

  std::chrono::milliseconds push_wait_{3000};
  std::string self_id_;
  std::unique_ptr<Mirrors> mirrors_;
  std::unique_ptr<GitService> git_;
  std::unique_ptr<Replicator> replicator_;
  std::mutex mu_;
  std::condition_variable idle_;
  int active_ = 0;
  std::list<std::thread> threads_;         // git request threads, joined when done
  std::vector<std::thread::id> finished_;  // ...those past their last lock of mu_
};

}  // namespace
}  // namespace mesh::repl

MESH_PLUGIN(mesh::repl::Replication, "replication", "0.1.0");
