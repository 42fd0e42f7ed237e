// The issues plugin's ABI glue (docs/issues.md): the subscriptions, the `mesh issues` verb,
// the board's routes, assets and navigation, and the status section, on top of the SDK-free
// Service / Actions / IssuesCli / WebBoard (glue/). ABI 1.3 functions are checked one by one
// (MESH_HAS_FIELD and not NULL) and the plugin degrades without them: no status section, no
// board pages (the CLI and the sync work on a 1.1 host).
#include <boost/json.hpp>
#include <chrono>
#include <exception>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

#include "actions.hpp"
#include "cli.hpp"
#include "commit_close.hpp"
#include "mesh/plugin.hpp"
#include "service.hpp"
#include "settings.hpp"
#include "status.hpp"
#include "web_assets.hpp"
#include "web_board.hpp"

namespace mesh::issues {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kMaxBody = 256 * 1024;  // a 60 KiB body, percent-encoded, and more
constexpr auto kTick = std::chrono::milliseconds(250);
constexpr int kStatusEveryTicks = 8;  // at most one status_set every 2 s

#define HOST_HAS(h, fn) ((h) && MESH_HAS_FIELD((h), mesh_host, fn) && (h)->fn)

// libgit2 keeps per-thread state that a host thread would leak at unload: every libgit2 call
// runs on a thread of this plugin, joined before the handler returns.
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

void collect(void* user, const char* data, size_t len) {
  static_cast<std::string*>(user)->append(data, len);
}

// ui_render and markdown_render (ABI 1.3), when the host has them.
class HostRenderer final : public Renderer {
 public:
  explicit HostRenderer(const mesh_host* h) : h_(h) {}
  bool render(std::string_view tmpl, const std::string& ctx, std::string* out,
              std::string* error) override {
    if (!HOST_HAS(h_, ui_render)) return *error = "the host has no ui_render (ABI 1.3)", false;
    char err[MESH_ERR_CAP] = {0};
    out->clear();
    int32_t rc =
        h_->ui_render(h_->ctx, sdk::view(tmpl), sdk::view(ctx), &collect, out, err, sizeof err);
    if (rc != MESH_OK) {
      *error = "ui_render failed (" + std::to_string(rc) + "): " + err;
      return false;
    }
    return true;
  }
  bool markdown(std::string_view text, std::string_view link_base, std::string* out) override {
    if (!HOST_HAS(h_, markdown_render)) return false;
    out->clear();
    return h_->markdown_render(h_->ctx, sdk::view(text), sdk::view(link_base), sdk::view(link_base),
                               &collect, out) == MESH_OK;
  }

 private:
  const mesh_host* h_;
};

std::string str_of(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

class Issues final : public sdk::Plugin {
 public:
  // Checked by the host before a load or a reload applies the settings (ABI 1.3).
  static void check_config(const std::string& json) { Settings::parse(json); }

  void start() override {
    if (!host().has_events()) {
      throw sdk::Error(MESH_E_UNSUPPORTED, "issues needs a daemon with events (ABI 1.1)");
    }
    try {
      settings_ = Settings::parse(host().config_json());
    } catch (const std::invalid_argument& e) {
      throw sdk::Error(MESH_E_INVALID, std::string("[plugins.issues] ") + e.what());
    }
    const mesh_host* h = host().raw();
    self_ = str_of(json::parse(host().self_json()).as_object(), "id");
    repos_dir_ = repos_dir();

    ServiceHooks hooks;
    hooks.publish = [this](const std::string& payload, std::uint64_t* seq, std::string* err) {
      return host().publish("issues", payload, seq, err) == MESH_OK;
    };
    hooks.log = [this](LogLevel level, const std::string& m) {
      static constexpr sdk::Level map[] = {sdk::Level::debug, sdk::Level::info, sdk::Level::warn,
                                           sdk::Level::error};
      Plugin::log(map[static_cast<int>(level)], m);
    };
    hooks.members = [this]() -> std::optional<std::vector<Member>> { return members(); };
    hooks.changed = [this](const std::string& repo, const std::string& issue) {
      dirty_ = true;
      const mesh_host* hh = host().raw();
      if (!HOST_HAS(hh, sse_publish)) return;
      std::string data = json::serialize(json::object{{"repo", repo}, {"issue", issue}});
      hh->sse_publish(hh->ctx, sdk::view(board_channel(repo)), sdk::view("issues"),
                      sdk::view(data));
    };
    service_ = std::make_unique<Service>(std::move(hooks), self_, system_random(), WaitingLimits{},
                                         settings_.member_limits);
    std::string cursor = service_->open(host().data_dir());
    actions_ = std::make_unique<Actions>(*service_, [this](const std::string& repo) {
      std::error_code ec;
      return fs::is_directory(repos_dir_ / (repo + ".git"), ec);
    });
    cli_ = std::make_unique<IssuesCli>(*service_, *actions_, [] {
      return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
    });
    renderer_ = std::make_unique<HostRenderer>(h);
    web_ = std::make_unique<WebBoard>(*service_, *actions_, *renderer_);

    subscribe(cursor, "issues", [this](const sdk::Event& e) { return on_issues_event(e); });
    // A member removed (or admitted) counts from the next event on.
    try {
      subscribe("issues-roster", "roster", [this](const sdk::Event&) {
        service_->forget_members();
        return true;
      });
    } catch (const sdk::Error& e) {
      Plugin::log(sdk::Level::info,
                  std::string("roster changes are seen within a second: ") + e.what());
    }
    if (settings_.close_from_commits) {
      subscribe("issues-refs", "refs", [this](const sdk::Event& e) { return on_refs(e); });
    }
    verb("issues",
         "the repos' issues: list, show, new, edit, comment, close, reopen, label, move "
         "(mesh issues help)",
         [this](const sdk::CliRequest& r) { on_cli(r); });
    register_web();
    timer(kTick, true, [this] { tick(); });
    publish_status();
  }

  void stop() override {
    if (service_) service_->cancel_waiters();
  }

 private:
  fs::path repos_dir() const {
    const mesh_host* h = host().raw();
    if (HOST_HAS(h, repos_dir)) {
      std::string buf(4096, '\0');
      size_t needed = 0;
      if (h->repos_dir(h->ctx, buf.data(), buf.size(), &needed) == MESH_OK) {
        buf.resize(std::min(needed, buf.size()));
        return buf;
      }
    }
    // An older host: the default layout, <root>/data/<plugin id> beside <root>/repos.
    return fs::path(host().data_dir()).parent_path().parent_path() / "repos";
  }

  std::optional<std::vector<Member>> members() const {
    try {
      boost::system::error_code ec;
      json::value v = json::parse(host().peers_json(), ec);
      if (ec || !v.is_array()) return std::nullopt;
      std::vector<Member> out;
      for (const auto& p : v.as_array()) {
        if (const auto* o = p.if_object()) out.push_back({str_of(*o, "id"), str_of(*o, "name")});
      }
      json::value self = json::parse(host().self_json(), ec);
      if (!ec && self.is_object()) {
        out.push_back({str_of(self.as_object(), "id"), str_of(self.as_object(), "name")});
      }
      return out;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

  bool on_issues_event(const sdk::Event& e) {
    if (e.ephemeral()) return true;
    // The SDK's FakeHost gives this node's own events an empty origin.
    std::string_view origin = e.origin().empty() ? std::string_view(self_) : e.origin();
    bool taken =
        service_->on_event(EventIn{origin, e.seq(), e.lamport(), e.wall_ms(), e.payload()});
    dirty_ = true;  // counts, refusals and usage are in the status section
    return taken;
  }

  // A push this node received: close the issues its new commits on the default branch fix.
  bool on_refs(const sdk::Event& e) {
    if (!e.origin().empty() && e.origin() != self_) return true;  // relayed: acted on already
    std::string error;
    auto refs = parse_refs_event(e.payload(), &error);
    if (!refs) {
      Plugin::log(sdk::Level::warn, "ignoring a refs event (" + error + ")");
      return true;
    }
    if (refs->updates.empty()) return true;  // a repo removed or restored
    Walked walked;
    on_own_thread([&] {
      walked = new_commits(repos_dir_ / (refs->repo + ".git"), refs->updates,
                           settings_.max_commits_per_push);
    });
    if (!walked.error.empty()) {
      Plugin::log(sdk::Level::warn, "commits of " + refs->repo + ": " + walked.error);
      return true;
    }
    if (walked.commits.empty()) return true;
    if (walked.truncated) {
      Plugin::log(sdk::Level::info, "" + refs->repo + ": only the newest " +
                                        std::to_string(walked.commits.size()) +
                                        " commits of this push were read for closing keywords");
    }
    ClosePlan plan;
    auto published = service_->act([&](const Board& board) {
      plan = plan_closes(board, refs->repo, walked.commits);
      std::vector<Op> ops;
      for (const auto& c : plan.closes) ops.push_back(c.op);
      return Planned<std::vector<Op>>{std::move(ops), {}};
    });
    for (const auto& n : plan.notes) Plugin::log(sdk::Level::info, "" + refs->repo + ": " + n);
    if (!published.ok) {
      Plugin::log(sdk::Level::warn, "closing from commits failed: " + published.error);
    } else {
      for (const auto& c : plan.closes) {
        Plugin::log(sdk::Level::info,
                    "" + c.op.repo + " " + c.ref + " closed by commit " + c.commit);
      }
    }
    return true;
  }

  void on_cli(const sdk::CliRequest& r) {
    std::vector<std::string> args(r.args().begin(), r.args().end());
    CliOutcome out = cli_->run(args, r.json());
    if (out.wait_seq == 0) {
      r.reply(out.reply.exit_code, out.reply.output);
      return;
    }
    const sdk::Host h = host();
    const std::uint64_t call = r.call_id();
    service_->when_taken(out.wait_seq, deadline(), [h, call, finish = out.finish](Taken t) {
      CliReply reply = finish(t);
      h.cli_respond(call, reply.exit_code, reply.output);
    });
  }

  Clock::time_point deadline() const {
    return Clock::now() + std::chrono::milliseconds(settings_.reply_wait_ms);
  }

  void register_web() {
    const mesh_host* h = host().raw();
    if (!HOST_HAS(h, http_route2)) {
      Plugin::log(sdk::Level::info, "no board pages (the host has no local routes)");
      return;
    }
    auto handler = [this](const sdk::HttpRequest& r) { on_http(r); };
    route("GET", "/repos/{repo}/issues", handler, 0, MESH_ROUTE_LOCAL);
    route("POST", "/repos/{repo}/issues", handler, kMaxBody, MESH_ROUTE_LOCAL);
    route("GET", "/repos/{repo}/issues/{id}", handler, 0, MESH_ROUTE_LOCAL);
    route("POST", "/repos/{repo}/issues/{id}/{action}", handler, kMaxBody, MESH_ROUTE_LOCAL);
    if (HOST_HAS(h, ui_asset)) {
      for (const char* name : {"board.js", "board.css"}) {
        auto data = web_asset(name);
        std::string type = std::string_view(name).ends_with(".js")
                               ? "text/javascript; charset=utf-8"
                               : "text/css; charset=utf-8";
        if (data &&
            h->ui_asset(h->ctx, sdk::view(name), sdk::view(type), sdk::view(*data)) != MESH_OK) {
          Plugin::log(sdk::Level::warn, std::string("the host refused the asset ") + name);
        }
      }
    }
    if (HOST_HAS(h, ui_nav) && h->ui_nav(h->ctx, sdk::view("repo"), sdk::view("Issues"),
                                         sdk::view("/repos/{repo}/issues")) != MESH_OK) {
      Plugin::log(sdk::Level::warn, "the host refused the Issues tab");
    }
  }

  void on_http(const sdk::HttpRequest& r) {
    WebRequest w;
    w.method = std::string(r.method());
    w.query = std::string(r.query());
    w.body = std::string(r.body());
    w.content_type = std::string(r.header("Content-Type"));
    const mesh_http_request* raw = r.raw();
    if (MESH_HAS_FIELD(raw, mesh_http_request, param_count)) {
      for (size_t i = 0; i < raw->param_count; ++i) {
        std::string_view name = sdk::view(raw->params[i].name);
        std::string value(sdk::view(raw->params[i].value));
        if (name == "repo") w.repo = value;
        if (name == "id") w.id = value;
        if (name == "action") w.action = value;
      }
    }
    WebResponse out = web_->handle(w);
    if (out.wait_seq == 0) return respond(r.call_id(), out);
    const std::uint64_t call = r.call_id();
    service_->when_taken(out.wait_seq, deadline(),
                         [this, call, finish = out.finish](Taken t) { respond(call, finish(t)); });
  }

  void respond(std::uint64_t call, const WebResponse& out) const {
    const mesh_host* h = host().raw();
    if (out.page && HOST_HAS(h, ui_respond)) {
      mesh_ui_page p{};
      p.struct_size = sizeof p;
      p.status = out.status;
      p.title = sdk::view(out.title);
      p.repo = sdk::view(out.repo);
      p.tab = sdk::view("Issues");
      p.body_html = sdk::view(out.body_html);
      p.scripts = sdk::view(out.scripts);
      h->ui_respond(h->ctx, call, &p);
      return;
    }
    sdk::HttpResponse res;
    res.status = out.status;
    if (out.page) {  // no layout on this host: the page alone
      res.headers = fragment_headers("text/html; charset=utf-8");
      res.body = "<!doctype html><meta charset=\"utf-8\"><title>" + html_escape(out.title) +
                 "</title>" + out.body_html;
    } else {
      res.headers = out.headers;
      res.body = out.body;
    }
    host().http_respond(call, res);
  }

  void tick() {
    service_->expire(Clock::now());
    if (++ticks_ % kStatusEveryTicks == 0 && dirty_.exchange(false)) publish_status();
  }

  void publish_status() {
    const mesh_host* h = host().raw();
    if (!HOST_HAS(h, status_set)) return;
    std::string js = "{\"issues\":" + status_json(*service_) + "}";
    std::string text = status_text(*service_);
    std::string html = status_html(*service_);
    mesh_status s{};
    s.struct_size = sizeof s;
    s.json = sdk::view(js);
    s.text = sdk::view(text);
    s.html = sdk::view(html);
    if (h->status_set(h->ctx, &s) != MESH_OK) {
      Plugin::log(sdk::Level::warn, "the host refused the status section");
    }
  }

  Settings settings_;
  std::string self_;
  fs::path repos_dir_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<Actions> actions_;
  std::unique_ptr<IssuesCli> cli_;
  std::unique_ptr<HostRenderer> renderer_;
  std::unique_ptr<WebBoard> web_;
  std::atomic<bool> dirty_{true};
  std::uint64_t ticks_ = 0;
};

}  // namespace
}  // namespace mesh::issues

MESH_PLUGIN(mesh::issues::Issues, "issues", MESH_VERSION);
