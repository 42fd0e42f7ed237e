// The ci plugin's ABI glue (docs/ci.md): Env implemented with the host's services, the
// subscriptions (`ci` records and live chunks, `refs` pushes), the `mesh ci` verb, the tick
// timer and the status section, on top of the ABI-free Ci (glue/ci.hpp). ABI 1.3 functions are
// checked before use: without the runner registry the node still creates, assigns and shows
// runs, it just runs no jobs itself.
#include <stdlib.h>
#include <boost/json.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>

#include "ci.hpp"
#include "heartbeat.hpp"
#include "mesh/plugin.hpp"
#include "mesh/plugin_jobs.hpp"
#include "settings.hpp"

namespace mesh::ci {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

#define HOST_HAS(h, fn) ((h) && MESH_HAS_FIELD((h), mesh_host, fn) && (h)->fn)

constexpr std::size_t kChunkBytes = 16 * 1024;  // a cli_chunk stays well under the line limit

std::string str_of(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

class CiPlugin final : public sdk::Plugin, public Env {
 public:
  static void check_config(const std::string& text) {
    auto s = parse_settings(text);
    if (!s) throw std::invalid_argument(s.error().message);
  }

  void start() override {
    if (!host().has_events())
      throw sdk::Error(MESH_E_UNSUPPORTED, "ci needs a daemon with events (ABI 1.1)");
    auto settings = parse_settings(host().config_json());
    if (!settings) throw sdk::Error(MESH_E_INVALID, "[plugins.ci] " + settings.error().message);
    json::value me = json::parse(host().self_json());
    self_ = str_of(me.as_object(), "id");
    std::string name = str_of(me.as_object(), "name");
    fs::path data = host().data_dir();
    fs::path repos = repos_dir(data);
    ci_ = std::make_unique<Ci>(*this, std::move(*settings), data, repos, self_, name);
    std::string cursor = ci_->open();
    subscribe(cursor, "ci", [this](const sdk::Event& e) { return on_ci(e); });
    subscribe("refs", "refs", [this](const sdk::Event& e) {
      if (e.ephemeral()) return true;
      ci_->on_refs(envelope(e), e.payload());
      return true;
    });
    // This node's replication applied a push: a run waiting for that commit goes on at once.
    subscribe("refs-ack", "refs-ack.live", [this](const sdk::Event& e) {
      if (!e.origin().empty() && e.origin() != self_) return true;
      boost::system::error_code ec;
      json::value v = json::parse(e.payload(), ec);
      if (!ec && v.is_object()) {
        std::string repo = str_of(v.as_object(), "repo");
        if (!repo.empty()) ci_->on_repo_updated(repo);
      }
      return true;
    });
    verb("ci", "CI runs: status, run, logs, cancel, runners",
         [this](const sdk::CliRequest& r) { on_cli(r); });
    timer(std::chrono::seconds(1), true, [this] { tick(); });
    register_web();
    if (!sdk::host_has_jobs(host()))
      Plugin::log(sdk::Level::warn, "this daemon has no runner registry: it runs no CI jobs");
  }

  void stop() override {
    if (ci_) ci_->stop();
  }

  // ---- Env ----
  void log(Level level, const std::string& m) override {
    static constexpr sdk::Level map[] = {sdk::Level::debug, sdk::Level::info, sdk::Level::warn,
                                         sdk::Level::error};
    Plugin::log(map[static_cast<int>(level)], m);
  }
  bool publish(std::string_view topic, const std::string& payload, std::string* error) override {
    return host().publish(topic, payload, nullptr, error) == MESH_OK;
  }
  std::uint64_t now_ms() override {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  }
  std::uint64_t mono_ms() override {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
  }
  std::vector<Member> members() override {
    std::vector<Member> out;
    std::string text;
    try {
      text = host().peers_json();
    } catch (const std::exception&) {
      return out;
    }
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_array()) return out;
    for (const auto& p : v.as_array()) {
      const auto* o = p.if_object();
      if (!o) continue;
      Member m;
      m.id = str_of(*o, "id");
      m.name = str_of(*o, "name");
      m.up = str_of(*o, "state") == "up";
      const json::value* plugins = o->if_contains("plugins");
      const json::value* part =
          plugins && plugins->is_object() ? plugins->as_object().if_contains("ci") : nullptr;
      if (part) {
        auto info = parse_heartbeat_part(*part);
        if (info) m.ci = std::move(*info);
      }
      if (!m.id.empty()) out.push_back(std::move(m));
    }
    return out;
  }
  LocalRunners local_runners() override {
    LocalRunners out;
    if (!sdk::host_has_jobs(host())) return out;
    std::string text;
    try {
      text = jobs_.runners_json(host());
    } catch (const std::exception& e) {
      log(Level::warn, std::string("runners_json: ") + e.what());
      return out;
    }
    // [{"name","plugin","modes","labels","slots","free","enabled"}], from the host (trusted,
    // but only as much as a heartbeat can carry is kept).
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_array()) return out;
    out.enabled = !v.as_array().empty();
    for (const auto& item : v.as_array()) {
      if (!item.is_object()) continue;
      json::object o = item.as_object();
      if (const auto* en = o.if_contains("enabled"); en && en->is_bool() && !en->as_bool())
        out.enabled = false;
      if (auto* labels = o.if_contains("labels"); labels && labels->is_array()) {
        auto& a = labels->as_array();
        if (a.size() > 16) a.resize(16);
      }
      o.erase("enabled");
      o.erase("plugin");
      json::value one = json::array{o};
      auto parsed = parse_runners_json(json::serialize(one));
      if (parsed && !parsed->empty()) {
        out.runners.push_back(std::move(parsed->front()));
      } else if (!parsed) {
        log(Level::warn, parsed.error().message);
      }
    }
    return out;
  }
  double load() override {
    double avg[1] = {0};
    if (getloadavg(avg, 1) != 1) return 0;
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    return avg[0] / cores;
  }
  void set_heartbeat(const std::string& json) override {
    if (heartbeat_set(json) != MESH_OK) log(Level::warn, "the heartbeat refused the ci part");
  }
  SubmitResult submit_job(const std::string& runner, const JobSubmit& job, JobLogFn on_log,
                          JobDoneFn on_done) override {
    SubmitResult out;
    if (!sdk::host_has_jobs(host())) {
      out.error = "this daemon has no runner registry";
      return out;
    }
    sdk::JobRequest req;
    req.run_id = job.run_id;
    req.job_name = job.job_name;
    req.repo = job.repo;
    req.sha = job.sha;
    req.mode = job.mode;
    req.image = job.image;
    req.workdir = job.workdir;
    req.commands = job.commands;
    req.env = job.env;
    for (const auto& s : job.secrets) req.secrets.emplace_back(s, "");
    req.timeout_ms = job.timeout_ms;
    try {
      out.id = jobs_.submit(
          host(), runner, req, [on_log](std::uint64_t, std::string_view data) { on_log(data); },
          [on_done](std::uint64_t, sdk::JobOutcome o, std::int32_t code, std::string_view why) {
            on_done(static_cast<JobOutcome>(o), code, std::string(why));
          });
    } catch (const sdk::Error& e) {
      out.busy = e.code() == MESH_E_LIMIT;
      out.error = e.what();
    }
    return out;
  }
  void cancel_job(std::uint64_t job_id) override { jobs_.cancel(host(), job_id); }
  bool cli_chunk(std::uint64_t call, const std::string& text) override {
    if (text.empty()) return host().cli_chunk(call, "") == MESH_OK;
    for (std::size_t at = 0; at < text.size(); at += kChunkBytes) {
      if (host().cli_chunk(call, std::string_view(text).substr(at, kChunkBytes)) != MESH_OK)
        return false;
    }
    return true;
  }
  void cli_respond(std::uint64_t call, int code, const std::string& output) override {
    host().cli_respond(call, code, output);
  }
  bool render(std::string_view tmpl, const std::string& ctx, std::string* out,
              std::string* error) override {
    const mesh_host* h = host().raw();
    if (!HOST_HAS(h, ui_render)) return *error = "the host has no ui_render (ABI 1.3)", false;
    char err[MESH_ERR_CAP] = {0};
    out->clear();
    int32_t rc = h->ui_render(
        h->ctx, sdk::view(tmpl), sdk::view(ctx),
        [](void* user, const char* data, size_t len) {
          static_cast<std::string*>(user)->append(data, len);
        },
        out, err, sizeof err);
    if (rc != MESH_OK)
      return *error = "ui_render failed (" + std::to_string(rc) + "): " + err, false;
    return true;
  }
  void sse(const std::string& channel, const std::string& event, const std::string& data) override {
    const mesh_host* h = host().raw();
    if (!HOST_HAS(h, sse_publish) || data.size() > 64 * 1024) return;
    h->sse_publish(h->ctx, sdk::view(channel), sdk::view(event), sdk::view(data));
  }

 private:
  fs::path repos_dir(const fs::path& data) const {
    try {
      return host().repos_dir();
    } catch (const std::exception&) {
      // An older host: the default layout, <root>/data/<plugin id> beside <root>/repos.
      return data.parent_path().parent_path() / "repos";
    }
  }

  // The CI pages (glue/web.hpp), when the host has the web layer.
  void register_web() {
    const mesh_host* h = host().raw();
    if (!HOST_HAS(h, http_route2) || !HOST_HAS(h, ui_respond)) {
      Plugin::log(sdk::Level::info, "no CI pages (the host has no web layer)");
      return;
    }
    auto handler = [this](const sdk::HttpRequest& r) { on_http(r); };
    route("GET", "/repos/{repo}/ci", handler, 0, MESH_ROUTE_LOCAL);
    route("GET", "/repos/{repo}/ci/{run}", handler, 0, MESH_ROUTE_LOCAL);
    route("GET", "/repos/{repo}/ci/{run}/log/{job}", handler, 0, MESH_ROUTE_LOCAL);
    route("POST", "/repos/{repo}/ci/{run}/cancel", handler, 4096, MESH_ROUTE_LOCAL);
    for (const char* name : {"ci.js", "ci.css"}) {
      std::string_view data = CiWeb::asset(name);
      std::string type = std::string_view(name).ends_with(".js") ? "text/javascript; charset=utf-8"
                                                                 : "text/css; charset=utf-8";
      if (!data.empty() && HOST_HAS(h, ui_asset) &&
          h->ui_asset(h->ctx, sdk::view(name), sdk::view(type), sdk::view(data)) != MESH_OK)
        Plugin::log(sdk::Level::warn, std::string("the host refused the asset ") + name);
    }
    if (HOST_HAS(h, ui_nav) && h->ui_nav(h->ctx, sdk::view("repo"), sdk::view("CI"),
                                         sdk::view("/repos/{repo}/ci")) != MESH_OK)
      Plugin::log(sdk::Level::warn, "the host refused the CI tab");
  }

  void on_http(const sdk::HttpRequest& r) {
    std::string repo(r.param("repo")), run(r.param("run")), job(r.param("job"));
    WebOut out;
    if (r.method() == "POST") {
      out = ci_->web().cancel(repo, run);
    } else if (!job.empty()) {
      out = ci_->web().log(repo, run, job);
    } else if (!run.empty()) {
      out = ci_->web().run(repo, run);
    } else {
      out = ci_->web().runs(repo);
    }
    const mesh_host* h = host().raw();
    if (out.page) {
      mesh_ui_page p{};
      p.struct_size = sizeof p;
      p.status = static_cast<uint32_t>(out.status);
      p.title = sdk::view(out.title);
      p.repo = sdk::view(out.repo);
      p.tab = sdk::view("CI");
      p.body_html = sdk::view(out.body_html);
      p.scripts = sdk::view(out.scripts);
      h->ui_respond(h->ctx, r.call_id(), &p);
      return;
    }
    sdk::HttpResponse res;
    res.status = static_cast<uint32_t>(out.status);
    res.headers = out.headers;
    res.headers.emplace_back("Content-Type", out.content_type);
    res.body = out.body;
    host().http_respond(r.call_id(), res);
  }

  Envelope envelope(const sdk::Event& e) const {
    // The SDK's FakeHost gives this node's own events an empty origin.
    return Envelope{e.origin().empty() ? self_ : std::string(e.origin()), e.seq(), e.lamport(),
                    e.wall_ms()};
  }

  bool on_ci(const sdk::Event& e) { return ci_->on_event(envelope(e), e.topic(), e.payload()); }

  void on_cli(const sdk::CliRequest& r) {
    std::vector<std::string> args(r.args().begin(), r.args().end());
    CliOut out = ci_->cli(r.call_id(), args, r.json());
    if (!out.pending) r.reply(out.code, out.output);
  }

  void tick() {
    ci_->tick();
    if (++ticks_ % 2 != 0) return;
    const mesh_host* h = host().raw();
    if (!HOST_HAS(h, status_set)) return;
    std::string js = ci_->status_json();
    std::string text = ci_->status_text();
    if (js == last_status_ && text == last_text_) return;
    last_status_ = js;
    last_text_ = text;
    host().status_set(js, text);
  }

  std::string self_;
  std::unique_ptr<Ci> ci_;
  sdk::JobClient jobs_;
  std::uint64_t ticks_ = 0;
  std::string last_status_, last_text_;
};

}  // namespace
}  // namespace mesh::ci

MESH_PLUGIN(mesh::ci::CiPlugin, "ci", MESH_VERSION);
