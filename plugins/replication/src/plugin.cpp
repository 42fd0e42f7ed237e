// The replication plugin's ABI glue: routes, verbs, subscriptions and timers on one side, the
// SDK-free Replicator / Mirrors / GitService on the other.
#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <list>
#include <memory>
#include <optional>
#include <sstream>
#include <system_error>
#include <thread>

#include "git_process.hpp"
#include "git_service.hpp"
#include "member_post.hpp"
#include "mesh/plugin.hpp"
#include "mirror.hpp"
#include "names.hpp"
#include "push_notes.hpp"
#include "replication_assets.hpp"
#include "replicator.hpp"
#include "repo_locks.hpp"
#include "repos_view.hpp"
#include "settings.hpp"
#include "smart_http.hpp"
#include "state_file.hpp"

namespace mesh::repl {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

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
    std::string why;
    auto settings = parse_settings(host().config_json(), &why);
    if (!settings) throw sdk::Error(MESH_E_INVALID, why);
    push_wait_ = settings->push_wait;
    fs::path data = host().data_dir();
    // <root>/data/<id> -> <root>/repos
    fs::path repos = settings->repos_dir.empty() ? data.parent_path().parent_path() / "repos"
                                                 : fs::path(settings->repos_dir);
    auto self = json::parse(host().self_json()).as_object();
    self_id_ = self.at("id").as_string().c_str();
    const std::string self_name = self.contains("name") ? self.at("name").as_string().c_str() : "";
    if (const auto* l = self.if_contains("listen"); l && l->is_string()) {
      std::string listen(l->as_string());
      listen_port_ = listen.substr(listen.rfind(':') + 1);
    }
    data_dir_ = data;
    mesh_command_ = mesh_command(data.parent_path().parent_path());
    load_url_base();

    auto locks = std::make_shared<RepoLocks>();
    mirrors_ = std::make_unique<Mirrors>(repos);
    GitServiceOptions gopts;
    gopts.repos_dir = repos;
    gopts.max_processes = settings->max_git_processes;
    gopts.max_request_bytes = settings->max_push_bytes;
    gopts.repo_locks = locks;
    git_ = std::make_unique<GitService>(gopts);
    ReplicatorOptions ropts;
    ropts.state_dir = data;
    ropts.self_id = self_id_;
    ropts.self_name = self_name;
    ropts.quota = {settings->max_new_repos_per_hour, settings->max_fetch_bytes_per_hour};
    const char* path_env = std::getenv("PATH");
    ropts.git.path_env = path_env && *path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
    ropts.git.git_path = find_executable("git", ropts.git.path_env);
    ropts.git.home = repos.string();
    ropts.max_offer_bytes = settings->max_push_bytes;
    replicator_ = std::make_unique<Replicator>(*mirrors_, *this, locks, ropts);

    on_own_thread([this] { replicator_->start(); });

    // Every path below "/" (the status page itself is the core's, an exact route): the
    // handler tells git paths from the rest.
    for (const char* method : {"GET", "POST"}) {
      stream_route(
          method, "/",
          [this](const sdk::HttpRequest& r, sdk::HttpStream s) { git_request(r, std::move(s)); },
          // Room to read (and drop) the rest of an oversized push, so that git shows the
          // reason instead of a broken connection; the service caps the decoded body itself.
          std::min<std::uint64_t>(
              gopts.max_request_bytes + oversize_drain_bytes(gopts.max_request_bytes),
              std::uint64_t{64} << 30));
    }
    // Packs a member sends because this node could not fetch them from it (object_offers.hpp).
    stream_route(
        "POST", std::string(kObjectsRoute) + "/{repo}",
        [this](const sdk::HttpRequest& r, sdk::HttpStream s) { objects_request(r, std::move(s)); },
        ropts.max_offer_bytes);
    // The repo pages (/repos, /repos/<repo>/...) are the browse plugin's.
    verb("repos", "the mirrors with their refs and divergences",
         [this](const sdk::CliRequest& r) { on_own_thread([&] { repos_verb(r); }); });
    verb("drop", "drop a parked tip on every node: mesh drop REPO PARKED",
         [this](const sdk::CliRequest& r) { on_own_thread([&] { drop_verb(r); }); });
    verb("repos-remove", "internal: remove a repo from every node (mesh remove-repo calls it)",
         [this](const sdk::CliRequest& r) { on_own_thread([&] { remove_verb(r); }); });
    verb("restore-repo", "bring a removed repo back on every node: mesh restore-repo REPO",
         [this](const sdk::CliRequest& r) { on_own_thread([&] { restore_verb(r); }); });
    subscribe("refs-apply", kRefsTopic, [this](const sdk::Event& e) {
      return replicator_->on_refs(std::string(e.origin()), e.payload());
    });
    subscribe("refs-ack", kAckTopic, [this](const sdk::Event& e) {
      replicator_->on_ack(std::string(e.origin()), e.payload());
      return true;
    });
    subscribe("refs-want", kWantTopic, [this](const sdk::Event& e) {
      replicator_->on_want(std::string(e.origin()), e.payload());
      return true;
    });
    // Other plugins' lines for the pusher (push_notes.hpp), e.g. the CI run a push queued.
    subscribe("push-notes", kPushNoteTopic, [this](const sdk::Event& e) {
      notes_.on_event(e.payload());
      return true;
    });
    // `mesh sync [REPO]` (the core publishes it; so does CI when a commit has not arrived).
    subscribe("sync", "local.sync", [this](const sdk::Event& e) {
      on_own_thread([&] { on_sync(e.payload()); });
      return true;
    });
    timer(std::chrono::seconds(5), true,
          [this] { on_own_thread([this] { replicator_->anti_entropy(); }); });
    // Other nodes' pushes land in the mirrors on the replicator's threads: a second at most
    // until `mesh status` and the node page show them (this node's own changes show at once).
    timer(std::chrono::seconds(1), true, [this] { on_own_thread([this] { publish_status(); }); });
    on_own_thread([this] { publish_status(); });
  }

  // Validate-then-apply (ABI 1.3): `mesh reload` refuses a bad table before anything changes.
  static void check_config(const std::string& json) {
    if (auto why = check_settings(json); !why.empty()) throw sdk::Error(MESH_E_INVALID, why);
  }

  void stop() override {
    notes_.stop();
    if (replicator_) replicator_->stop();
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

  // The repos in `mesh status` ("repos" in --json, the repos table as text) and on the node
  // page (html), plus the members over a per-member limit ("replication_limits"). Handed to
  // the host only when something changed. On a thread of this plugin's (libgit2).
  void publish_status() {
    std::string repos = replicator_->repos_json(url_base_for_json(), mesh_command_);
    std::string limits = replicator_->quota_json();
    std::lock_guard lock(status_mu_);
    if (repos == status_repos_ && limits == status_limits_) return;
    std::string html, err;
    if (!render_repos_section(repos, &html, &err)) {
      Plugin::log(sdk::Level::warn, "the repos section of the node page: " + err);
      html = "<div class=\"flash-error\">The repos could not be shown (the daemon log says "
             "why).</div>";
    }
    // Within the host's 256 KiB for the JSON part (the refs go first: mesh repos has them).
    std::string js = "{\"repos\":" + repos_status_json(repos, 200 * 1024) +
                     ",\"replication_limits\":" + limits + "}";
    try {
      host().status_set(js, status_text(repos), html);
    } catch (const std::exception& e) {
      Plugin::log(sdk::Level::warn, std::string("status_set: ") + e.what());
    }
    status_repos_ = std::move(repos);  // a refusal is logged once per change, not per second
    status_limits_ = std::move(limits);
  }

  // `mesh status`'s heading and indented lines, within the host's 64 KiB.
  static std::string status_text(const std::string& repos) {
    constexpr std::size_t kCap = 60 * 1024;
    std::string text = "repos\n";
    std::istringstream lines(repos_text(repos));
    for (std::string line; std::getline(lines, line);) {
      if (text.size() + line.size() > kCap) return text + "  ... (mesh repos shows them all)\n";
      text += (line.empty() ? "" : "  ") + line + "\n";
    }
    return text;
  }

  bool render_repos_section(const std::string& repos, std::string* out, std::string* err) {
    const mesh_host* h = host().raw();
    if (!MESH_HAS_FIELD(h, mesh_host, ui_render) || !h->ui_render)
      return *err = "the daemon has no ui_render (ABI 1.3)", false;
    const auto* tmpl = replication_assets::find("repos_section.mustache");
    if (!tmpl) return *err = "repos_section.mustache is not compiled in", false;
    std::string ctx = repos_section_context(repos, listen_port_);
    char buf[MESH_ERR_CAP] = {0};
    std::string html;
    int32_t rc = h->ui_render(
        h->ctx, sdk::view(tmpl->data()), sdk::view(ctx),
        [](void* user, const char* data, size_t len) {
          static_cast<std::string*>(user)->append(data, len);
        },
        &html, buf, sizeof buf);
    if (rc != MESH_OK) return *err = "ui_render failed: " + std::string(buf), false;
    if (html.size() > 250 * 1024) {
      html = "<div id=\"repos\"><div class=\"box-header\"><h2>Repos</h2></div><div "
             "class=\"blankslate\">Too many to show here: <code>mesh repos</code> lists "
             "them.</div></div>";
    }
    *out = std::move(html);
    return true;
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
      if (auto* s = o->if_contains("reach"); s && s->is_string()) {
        p.direct = s->as_string() == "direct";
      }
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

  std::string post_file(const std::string& peer_id, const std::string& path, const fs::path& file,
                        std::uint64_t size) override {
    // The host dials the member's addresses (the last that worked first); every read and
    // write is bounded, and the answer comes once the member has checked the whole pack.
    struct Conn final : ByteConn {
      sdk::PeerConn c;
      long read(char* buf, std::size_t cap) override { return static_cast<long>(c.read(buf, cap)); }
      bool write(std::string_view data) override { return c.write(data) == MESH_OK; }
    } conn;
    std::string err;
    if (conn.c.connect(host(), "", peer_id, 30'000, &err) != MESH_OK) {
      return "cannot connect: " + err;
    }
    return repl::post_file(conn, path, file, size);
  }

  void set_heartbeat(const std::string& json) override {
    if (heartbeat_set(json) != MESH_OK) {
      Plugin::log(sdk::Level::warn, "the heartbeat refused the repo digests");
    }
  }

 private:
  // "mesh", or "mesh --root DIR" when this node's root is not the one a plain `mesh` uses.
  static std::string mesh_command(const fs::path& root) {
    fs::path dflt;
    if (const char* r = std::getenv("MESH_ROOT"); r && *r) {
      dflt = r;
    } else if (const char* home = std::getenv("HOME"); home && *home) {
      dflt = fs::path(home) / ".mesh";
    }
    std::error_code ec;
    if (!dflt.empty() && fs::equivalent(dflt, root, ec)) return "mesh";
    return "mesh --root " + root.string();
  }

  // The URL base users reach this node at ("https://localhost:7979"), learned from their git
  // requests (the Host header the core checked) and kept across restarts, for the commands in
  // `mesh repos`. Before any request, a form that asks `mesh url`.
  void load_url_base() {
    std::string err;
    auto text = read_state_file(data_dir_ / "url_base", 256, &err);
    std::lock_guard lock(url_mu_);
    if (text && (text->starts_with("https://") || text->starts_with("http://"))) {
      url_base_ = *text;
    }
  }
  void learn_url_base(const sdk::HttpRequest& req) {
    std::string host(req.header("Host"));
    if (!req.local() || host.empty() || host.size() > 128) return;
    for (char c : host) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == ':' || c == '-' || c == '[' || c == ']';
      if (!ok) return;
    }
    std::string base = std::string(req.tls() ? "https://" : "http://") + host;
    {
      std::lock_guard lock(url_mu_);
      if (base == url_base_) return;
      url_base_ = base;
    }
    std::string err;
    write_state_file(data_dir_ / "url_base", base, false, &err);
  }
  std::string url_of(const std::string& repo) {
    std::lock_guard lock(url_mu_);
    if (url_base_.empty()) return "\"$(" + mesh_command_ + " url " + repo + " | head -n1)\"";
    return url_base_ + "/" + repo + ".git";
  }
  std::string url_base_for_json() {
    std::lock_guard lock(url_mu_);
    return url_base_.empty() ? "https://localhost:PORT" : url_base_;
  }

  // On the plugin executor: parse, then hand the blocking work to a thread of its own.
  void git_request(const sdk::HttpRequest& req, sdk::HttpStream stream) {
    std::string_view path = req.path();
    auto parsed = parse_git_path(path);
    if (!parsed) {
      CallIo io(std::move(stream));
      // A repo URL opened in a browser leads to its page.
      std::string_view name = path.substr(path.empty() ? 0 : 1);
      if (name.ends_with('/')) name.remove_suffix(1);
      if (name.ends_with(".git")) name.remove_suffix(4);
      if (req.method() == "GET" && req.local() &&
          (path.ends_with(".git") || path.ends_with(".git/"))) {
        if (!valid_repo_name(name)) {
          io.respond(400, "text/plain; charset=utf-8", "invalid repository name\n");
        } else if (accepts_html(req.header("Accept")) && mirrors_->exists(std::string(name))) {
          sdk::HttpResponse r;
          r.status = 302;
          r.headers.emplace_back("Location", "/repos/" + std::string(name));
          r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
          r.body = "see /repos/" + std::string(name) + "\n";
          stream.respond(r);
        } else {
          io.respond(404, "text/plain; charset=utf-8",
                     "no repository named " + std::string(name) +
                         " on this node (git URLs end in .git/info/refs, "
                         ".git/git-upload-pack or .git/git-receive-pack)\n");
        }
        return;
      }
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
    learn_url_base(req);
    GitRequest g;
    g.path = *parsed;
    g.method = std::string(req.method());
    g.query = std::string(req.query());
    g.local_client = !req.from_member();
    const mesh_http_request* raw = req.raw();
    for (size_t i = 0; i < raw->header_count; ++i) {
      g.headers.emplace_back(std::string(raw->headers[i].name.ptr, raw->headers[i].name.len),
                             std::string(raw->headers[i].value.ptr, raw->headers[i].value.len));
    }
    // The URL this client used, for the commands a push or fetch shows.
    std::string url = std::string(req.tls() ? "https://" : "http://") +
                      std::string(req.header("Host")) + "/" + parsed->repo + ".git";
    on_request_thread(stream, [this, stream, g = std::move(g), url = std::move(url)]() mutable {
      serve_git(std::move(stream), std::move(g), url);
    });
  }

  // A member's pack for a repo (object_offers.hpp), verified on a request thread.
  void objects_request(const sdk::HttpRequest& req, sdk::HttpStream stream) {
    auto text = [&](unsigned status, const std::string& body) {
      stream.respond(sdk::HttpResponse::text(status, body + "\n"));
    };
    if (!req.from_member()) return text(403, "members only");
    const std::string repo(req.param("repo"));
    if (!valid_repo_name(repo)) return text(400, "invalid repository name");
    std::string_view cl = req.header("Content-Length");
    std::uint64_t length = 0;
    if (cl.empty() || cl.size() > 19 || cl.find_first_not_of("0123456789") != std::string::npos) {
      return text(411, "a Content-Length is required");
    }
    for (char ch : cl) length = length * 10 + static_cast<std::uint64_t>(ch - '0');
    const std::string sender(req.peer_id());
    on_request_thread(stream, [this, stream, repo, sender, length] {
      auto read = [&stream](char* buf, std::size_t cap) -> long {
        auto n = stream.read(buf, cap);
        return n < 0 ? -1 : static_cast<long>(n);
      };
      UploadAnswer a = replicator_->accept_objects(sender, repo, length, read);
      stream.respond(sdk::HttpResponse::text(a.status, a.text + "\n"));
    });
  }

  // Runs fn on a request thread of this plugin's (joined at stop; libgit2 may run there).
  // Without a thread, the call is answered 503 on `handle`.
  template <class F>
  void on_request_thread(const sdk::HttpStream& handle, F&& fn) {
    std::lock_guard lock(mu_);
    reap_locked();
    ++active_;
    try {
      threads_.emplace_back([this, fn = std::forward<F>(fn)]() mutable {
        fn();
        std::lock_guard lock(mu_);
        --active_;
        finished_.push_back(std::this_thread::get_id());
        idle_.notify_all();
      });
    } catch (const std::system_error& e) {
      --active_;
      Plugin::log(sdk::Level::error, std::string("no thread for a request: ") + e.what());
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

  // On a request thread of its own (libgit2 may run here).
  void serve_git(sdk::HttpStream stream, GitRequest g, const std::string& url) {
    CallIo io(std::move(stream));
    const std::string repo = g.path.repo;
    g.refusal = replicator_->refusal(repo);
    if (g.path.what == GitPath::upload_pack && g.refusal.empty()) {
      g.fetch_notice = replicator_->notice(repo, url);
    }
    std::optional<PushRecord> push;
    bool answered = false;
    g.on_received = [this, &repo, &push](const std::vector<RefUpdate>& updates) {
      std::vector<RefChange> changes;
      for (const auto& u : updates) changes.push_back({u.ref, u.old_oid, u.new_oid});
      push = replicator_->record_push(repo, changes);
    };
    g.after_receive = [this, &repo, &push, &answered, &url](const std::vector<RefUpdate>&) {
      answered = true;
      if (!push) return std::string();
      replicator_->publish_push(*push);
      std::string msg = replicator_->wait_replicated(*push, push_wait_, url);
      if (!push->local_only.empty()) {
        // The pusher must hear that these stay here (the daemon log says it too).
        std::string refs;
        for (const auto& r : push->local_only) refs += (refs.empty() ? "" : ", ") + r;
        msg += std::string(msg.empty() ? "" : "\n") +
               "mesh: kept on this node only, not replicated (unsafe ref names): " + refs;
      }
      std::string notes = replicator_->notice(repo, url);
      if (!notes.empty() && msg.find("overtaken") == std::string::npos) {
        msg += "\n" + notes;
      }
      for (const auto& line : notes_.collect(repo, push->key.clock, std::chrono::seconds(2))) {
        if (!msg.empty() && msg.back() != '\n') msg += "\n";
        msg += "mesh: " + line;
      }
      return msg;
    };
    ServeResult r = git_->serve(g, io);
    if (!r.log.empty()) {
      Plugin::log(r.status >= 500 || r.refused ? sdk::Level::warn : sdk::Level::info,
                  "git " + repo + ": " + r.log);
    }
    // A push whose client did not ask for a sideband still replicates.
    if (push && !answered) replicator_->publish_push(*push);
    if (push) publish_status();  // `mesh status` and the page show this node's push at once
  }

  void repos_verb(const sdk::CliRequest& r) {
    if (!r.args().empty()) return void(r.reply(2, "usage: mesh repos [--json]\n"));
    std::string js = replicator_->repos_json(url_base_for_json(), mesh_command_);
    r.reply(0, r.json() ? js : repos_text(js));
  }

  // A repo argument that names a repo this node serves; else the reply says why (exit 1).
  bool repo_arg(const sdk::CliRequest& r, const std::string& repo) {
    if (!valid_repo_name(repo)) {
      r.reply(1, "invalid repo name '" + repo +
                     "': use letters, digits, '.', '_' and '-' (at most 100, starting with a "
                     "letter or digit)\n");
      return false;
    }
    if (!replicator_->known(repo)) {
      r.reply(1, "no repo named " + repo + " on this node (mesh repos lists them)\n");
      return false;
    }
    return true;
  }

  // {"repo": null | "<name>"}: compare that repo (every repo) with every member up now.
  void on_sync(std::string_view payload) {
    boost::system::error_code ec;
    auto v = json::parse(payload, ec);
    const auto* o = ec ? nullptr : v.if_object();
    const auto* r = o ? o->if_contains("repo") : nullptr;
    std::string repo = r && r->is_string() ? std::string(r->as_string()) : "";
    if (!o || (r && !r->is_null() && !r->is_string()) || (!repo.empty() && !known_repo(repo))) {
      return Plugin::log(sdk::Level::warn,
                         "local.sync ignored: not {\"repo\": null or a repo of this node}: " +
                             std::string(payload.substr(0, 200)));
    }
    std::size_t n = replicator_->sync_now(repo);
    replicator_->refresh_heartbeat();
    Plugin::log(sdk::Level::info, "sync: queued " + std::to_string(n) +
                                      " repo comparisons with members that are up");
  }

  bool known_repo(const std::string& repo) {
    return valid_repo_name(repo) && replicator_->known(repo);
  }

  void drop_verb(const sdk::CliRequest& r) {
    if (r.args().size() != 2) return void(r.reply(2, "usage: mesh drop REPO PARKED\n"));
    const std::string repo(r.args()[0]), which(r.args()[1]);
    if (!repo_arg(r, repo)) return;
    std::string what, err;
    if (!replicator_->drop(repo, which, &what, &err)) return void(r.reply(1, err + "\n"));
    publish_status();
    if (r.json()) {
      return void(r.reply(0, json::serialize(json::object{{"dropped", which}, {"repo", repo}})));
    }
    r.reply(0, "dropped " + what + " on every node\n");
  }

  void remove_verb(const sdk::CliRequest& r) {
    if (r.args().size() != 1) return void(r.reply(2, "usage: mesh remove-repo REPO [--yes]\n"));
    const std::string repo(r.args()[0]);
    if (!repo_arg(r, repo)) return;
    std::string err;
    if (!replicator_->remove_repo(repo, &err)) return void(r.reply(1, err + "\n"));
    publish_status();
    if (r.json()) return void(r.reply(0, json::serialize(json::object{{"removed", repo}})));
    r.reply(0, "removed " + repo + " from every node; it stays recoverable for 30 days: " +
                   mesh_command_ + " restore-repo " + repo + "\n");
  }

  void restore_verb(const sdk::CliRequest& r) {
    if (r.args().size() != 1) return void(r.reply(2, "usage: mesh restore-repo REPO\n"));
    const std::string repo(r.args()[0]);
    if (!valid_repo_name(repo)) return void(r.reply(1, "invalid repo name '" + repo + "'\n"));
    std::string err;
    if (!replicator_->restore_repo(repo, &err)) return void(r.reply(1, err + "\n"));
    publish_status();
    if (r.json()) return void(r.reply(0, json::serialize(json::object{{"restored", repo}})));
    r.reply(0, "restored " + repo + " on every node\n");
  }

  std::chrono::milliseconds push_wait_{3000};
  PushNotes notes_;
  std::mutex status_mu_;
  std::string status_repos_, status_limits_;  // what the host's status section was made from
  std::string listen_port_ = "PORT";          // for the node page's push hint
  std::string self_id_;
  fs::path data_dir_;
  std::string mesh_command_ = "mesh";
  std::mutex url_mu_;
  std::string url_base_;
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

MESH_PLUGIN(mesh::repl::Replication, "replication", MESH_VERSION);
