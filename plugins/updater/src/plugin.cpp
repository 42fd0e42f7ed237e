// The updater plugin (`mesh update`, docs/updates.md): the `update` verb, the member routes
// that serve verified archives, this node's version in heartbeats, and what the last update
// did in `mesh status` and the log. Verification, downloads and archives are the SDK-free
// library around it; the restart is the watchdog's (cli/update_commands.cpp).
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "download.hpp"
#include "fsutil.hpp"
#include "plugin_context.hpp"
#include "plugin_update.hpp"
#include "release.hpp"
#include "rollback.hpp"

namespace mesh::updater {
namespace {
namespace json = boost::json;
namespace fs = std::filesystem;

constexpr auto kPendingPoll = std::chrono::seconds(1);
constexpr std::int64_t kMaxPendingWatchMs = 30 * 60 * 1000;

std::string str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

SelfInfo self_info(const sdk::Host& host, const fs::path& data) {
  SelfInfo s;
  boost::system::error_code ec;
  json::value v = json::parse(host.self_json(), ec);
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    s.name = str(o, "name");
    s.id = str(o, "id");
    s.version = str(o, "version");
    s.listen = str(o, "listen");
    s.root = str(o, "root");
  }
  // <root>/data/updater is the layout of every host so far.
  if (s.root.empty()) s.root = data.parent_path().parent_path().string();
  std::error_code fec;
  s.exe = fs::read_symlink("/proc/self/exe", fec);
  return s;
}

class Updater final : public sdk::Plugin {
 public:
  static void check_config(const std::string& json) { (void)parse_settings(json); }

  void start() override {
    if (!host().has_abi_1_2()) {
      throw sdk::Error(MESH_E_UNSUPPORTED, "updater needs a daemon with ABI 1.2 or later");
    }
    ctx_.host = host();
    try {
      ctx_.settings = parse_settings(host().config_json());
    } catch (const std::invalid_argument& e) {
      throw sdk::Error(MESH_E_INVALID, e.what());
    }
    ctx_.data = host().data_dir();
    ctx_.self = self_info(host(), ctx_.data);
    auto running = parse_semver(ctx_.self.version.empty() ? MESH_VERSION : ctx_.self.version);
    if (!running) throw sdk::Error(MESH_E_INVALID, "daemon version: " + running.error().message);
    ctx_.running = *running;
    ctx_.store = std::make_unique<ArchiveStore>(ctx_.data / "archives");
    curl_ = std::make_unique<CurlGlobal>();
    if (!curl_->ok()) throw sdk::Error(MESH_E_INTERNAL, "libcurl could not be initialised");
    std::error_code ec;
    fs::remove_all(ctx_.data / "tmp", ec);  // downloads an earlier run left half done
    if (!ctx_.settings.release_key) log(sdk::Level::warn, "updater: " + no_key_message());

    verb("update", "find, verify and apply a signed release (mesh update --help)",
         [this](const sdk::CliRequest& r) { on_update(r); });
    if (ctx_.settings.serve) {
      stream_route(
          "GET", kPeerRoute,
          [this](const sdk::HttpRequest& r, sdk::HttpStream s) { server_.handle(r, s); }, 0);
    }
    (void)heartbeat_set(ctx_.heartbeat_json());
    settle_outcome();
    if (pending_exists()) {
      pending_since_ms_ = now_ms();
      pending_timer_ = timer(kPendingPoll, true, [this] { poll_pending(); });
    }
  }

  void stop() override {
    ctx_.cancel = true;
    server_.stop();
    std::vector<std::thread> workers;
    {
      std::lock_guard lock(mu_);
      workers.swap(workers_);
    }
    for (auto& t : workers) t.join();
  }

 private:
  void on_update(const sdk::CliRequest& r) {
    std::vector<std::string_view> argv(r.args().begin(), r.args().end());
    auto args = parse_update_args(argv);
    if (!args) {
      r.reply(2, args.error().message + "\n");
      return;
    }
    std::lock_guard lock(mu_);
    if (busy_) {
      r.reply(1, "another mesh update runs on this node right now\n");
      return;
    }
    busy_ = true;
    // The previous call's thread has finished (busy_ was cleared as its last step).
    for (auto& t : workers_) t.join();
    workers_.clear();
    const std::uint64_t call = r.call_id();
    const bool json = r.json();
    const sdk::Host h = host();
    // Downloads take long: never on the plugin executor.
    workers_.emplace_back([this, call, json, h, a = *args] {
      VerbReply reply;
      try {
        reply = run_update(ctx_, a, json,
                           [h, call](const std::string& text) { (void)h.cli_chunk(call, text); });
      } catch (const std::exception& e) {
        reply = {1, std::string("internal error in the updater: ") + e.what(), {}};
      }
      if (reply.exit_code != 0) log(sdk::Level::warn, "updater: " + reply.output);
      h.cli_respond(call, reply.exit_code, reply.output);
      if (reply.after) reply.after();
      std::lock_guard lock(mu_);
      busy_ = false;
    });
  }

  bool pending_exists() const {
    std::error_code ec;
    return fs::exists(ctx_.file(kPendingFile), ec);
  }

  // While a restart is in progress (this daemon is the new version under its health check),
  // watch for the watchdog's verdict.
  void poll_pending() {
    auto pending = read_attempt(ctx_.file(kPendingFile));
    bool done = !pending || !*pending;
    if (!done && (*pending)->watchdog_pid > 0 &&
        ::kill(static_cast<pid_t>((*pending)->watchdog_pid), 0) != 0) {
      // The watchdog died without a verdict: say so instead of waiting forever.
      Attempt a = **pending;
      a.result = "aborted";
      a.reason = "the update watchdog (pid " + std::to_string(a.watchdog_pid) +
                 ") ended without a result; see logs/update.log";
      a.running = ctx_.running.str();
      a.ended_ms = now_ms();
      (void)write_attempt(ctx_.file(kLastFile), a);
      std::error_code ec;
      fs::remove(ctx_.file(kPendingFile), ec);
      done = true;
    }
    if (!done && now_ms() - pending_since_ms_ < kMaxPendingWatchMs) return;
    settle_outcome();
    cancel_timer(pending_timer_);
  }

  // Logs the last outcome once, records a successful update in the anti-rollback mark, and
  // shows it in `mesh status`.
  void settle_outcome() {
    auto last = read_attempt(ctx_.file(kLastFile));
    if (!last) {
      log(sdk::Level::warn, "updater: " + last.error().message);
      return;
    }
    // The running version is installed, unless it is a new one still under its health
    // check: a version that gets rolled back must not raise the mark.
    if (!pending_exists()) record(ctx_.running.str());
    if (!*last) {
      show_status(std::nullopt);
      return;
    }
    const Attempt& a = **last;
    // Both ends of a successful switch were installed (a forced downgrade keeps the mark).
    if (a.result == "updated" && a.to == ctx_.running.str()) {
      for (const auto& v : {a.from, a.to}) record(v);
    }
    auto noted = read_small_file(ctx_.file("noted"), 256);
    if (!noted || *noted != a.attempt) {
      log(a.result == "updated" ? sdk::Level::info : sdk::Level::warn, "updater: " + describe(a));
      (void)write_file_durable(ctx_.file("noted"), a.attempt);
    }
    show_status(a);
  }

  void record(const std::string& version) {
    auto v = parse_semver(version);
    if (!v) return;
    if (auto st = record_installed(ctx_.file(kHighestFile), *v); !st)
      log(sdk::Level::error, "updater: cannot record the installed version: " + st.error().message);
  }

  void show_status(const std::optional<Attempt>& last) {
    const mesh_host* h = host().raw();
    if (!MESH_HAS_FIELD(h, mesh_host, status_set) || !h->status_set) {
      if (last && !status_note_logged_) {
        status_note_logged_ = true;
        log(sdk::Level::info,
            "updater: this daemon has no status_set (ABI 1.3), so the last update shows in "
            "`mesh update --check` and this log only");
      }
      return;
    }
    json::object part{{"version", ctx_.running.str()}};
    std::string text = "updater\n  version " + ctx_.running.str() + "\n";
    if (last) {
      boost::system::error_code ec;
      part["last"] = json::parse(attempt_json(*last), ec);
      text += "  last    " + describe(*last) + "\n";
    }
    if (!ctx_.settings.release_key) text += "  note    no release_key: updates are refused\n";
    std::string j = json::serialize(json::object{{"updater", part}});
    mesh_status s{};
    s.struct_size = sizeof s;
    s.json = sdk::view(j);
    s.text = sdk::view(text);
    if (h->status_set(h->ctx, &s) != MESH_OK) log(sdk::Level::warn, "updater: status_set refused");
  }

  PluginContext ctx_;
  PeerServer server_{ctx_};
  std::unique_ptr<CurlGlobal> curl_;
  std::mutex mu_;
  bool busy_ = false;
  std::vector<std::thread> workers_;
  std::uint64_t pending_timer_ = 0;
  std::int64_t pending_since_ms_ = 0;
  bool status_note_logged_ = false;
};

}  // namespace
}  // namespace mesh::updater

MESH_PLUGIN(mesh::updater::Updater, "updater", MESH_VERSION);
