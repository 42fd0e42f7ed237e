#include "plugin_update.hpp"

#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>

#include "layout.hpp"
#include "prepare.hpp"
#include "release.hpp"
#include "rollback.hpp"
#include "spawn.hpp"

namespace mesh::updater {
namespace json = boost::json;
namespace fs = std::filesystem;

const char* const kUpdateUsage =
    "usage: mesh update [--check] [--ref vX.Y.Z] [--from PEER] [--force] [--rollback]";

namespace {

// Every stop, start and health check step of the watchdog fits in this on top of the
// configured health timeout (cli/update_commands.cpp uses the same margins).
constexpr int kRestartMarginS = 120;

VerbReply failure(const std::string& message, int code = 1) {
  return {code, message, {}};
}
VerbReply failure(const Error& e, const std::string& context = {}) {
  return {1,
          (context.empty() ? "" : context + ": ") + e.message + " [" +
              std::string(errc_name(e.code)) + "]",
          {}};
}

json::value attempt_value(const std::optional<Attempt>& a) {
  if (!a) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(attempt_json(*a), ec);
  if (ec) return nullptr;
  v.as_object()["summary"] = describe(*a);
  return v;
}

bool alive(std::int64_t pid) {
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0;
}

// An update or rollback whose watchdog still runs (one in a systemd unit, pid -1, counts
// until its deadline).
std::optional<Attempt> in_progress(const PluginContext& ctx) {
  auto p = read_attempt(ctx.file(kPendingFile));
  if (!p || !*p) return std::nullopt;
  const Attempt& a = **p;
  const std::int64_t deadline_ms =
      (ctx.settings.health_timeout.count() + kRestartMarginS) * std::int64_t{1000};
  if (alive(a.watchdog_pid) || (a.watchdog_pid < 0 && now_ms() - a.started_ms < deadline_ms))
    return a;
  return std::nullopt;
}

// Progress lines for a terminal, at most four a second.
Progress progress_printer(const std::string& name,
                          const std::function<void(const std::string&)>& chunk) {
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [name, chunk, last](std::uint64_t done, std::optional<std::uint64_t> total) {
    auto now = std::chrono::steady_clock::now();
    bool finished = total && done >= *total;
    if (!finished && now - *last < std::chrono::milliseconds(250)) return;
    *last = now;
    char line[256];
    double mib = static_cast<double>(done) / (1 << 20);
    if (total && *total) {
      std::snprintf(line, sizeof line, "\rdownloading %s: %.1f of %.1f MiB (%d%%)%s", name.c_str(),
                    mib, static_cast<double>(*total) / (1 << 20),
                    static_cast<int>(done * 100 / *total), finished ? "\n" : "");
    } else {
      std::snprintf(line, sizeof line, "\rdownloading %s: %.1f MiB", name.c_str(), mib);
    }
    chunk(line);
  };
}

std::unique_ptr<ReleaseSource> source_for(PluginContext& ctx, const UpdateArgs& args,
                                          Error* error) {
  if (!args.from) return make_http_source(ctx.settings.source, ctx.limits(), &ctx.cancel);
  auto peer = ctx.find_peer(*args.from);
  if (!peer) {
    *error = peer.error();
    return nullptr;
  }
  return ctx.peer_source(*peer);
}

// Hands the restart to the watchdog: the running (known-good) binary's `__update-watch`.
VerbReply start_restart(PluginContext& ctx, const Install& install, const std::string& kind,
                        const std::string& to, const std::string& source) {
  if (ctx.self.listen.empty() || ctx.self.root.empty()) {
    return failure(
        "this daemon does not report its root and listen address, so it cannot "
        "restart itself; restart it by hand (mesh stop && mesh start)");
  }
  Attempt a;
  a.attempt = random_attempt_id();
  a.kind = kind;
  a.from = ctx.running.str();
  a.to = to;
  a.started_ms = now_ms();
  if (auto st = write_attempt(ctx.file(kPendingFile), a); !st) return failure(st.error());
  const auto health = std::to_string(ctx.settings.health_timeout.count());
  std::vector<std::string> argv{install.exe.string(),
                                "--root",
                                ctx.self.root,
                                "__update-watch",
                                "--attempt",
                                a.attempt,
                                "--kind",
                                kind,
                                "--prefix",
                                install.prefix.string(),
                                "--from",
                                a.from,
                                "--to",
                                to,
                                "--listen",
                                ctx.self.listen,
                                "--health-timeout",
                                health};
  const fs::path log = fs::path(ctx.self.root) / "logs" / "update.log";
  Result<int> pid = -1;
  if (auto unit = current_systemd_unit()) {
    // The watchdog in a unit of its own; it restarts ours with systemctl (no pid to follow).
    argv.insert(argv.end(),
                {"--systemd-unit", unit->name, "--systemd-scope", unit->user ? "user" : "system"});
    if (auto st = spawn_transient(*unit, "mesh-update-" + a.attempt, argv, log); !st)
      pid = st.error();
  } else {
    pid = spawn_detached(argv, log);
  }
  if (!pid) {
    std::error_code ec;
    fs::remove(ctx.file(kPendingFile), ec);
    return failure(pid.error(), "cannot start the restart");
  }
  a.watchdog_pid = *pid;
  ctx.host.info("updater: " + std::string(kind == "rollback" ? "rolling back" : "updating") +
                " from " + a.from + " to " + to + "; the watchdog (" +
                (*pid > 0 ? "pid " + std::to_string(*pid) : "unit mesh-update-" + a.attempt) +
                ") restarts the daemon");
  json::object restart{
      {"attempt", a.attempt}, {"kind", kind},
      {"from", a.from},       {"to", to},
      {"watchdog_pid", *pid}, {"wait_s", ctx.settings.health_timeout.count() + kRestartMarginS}};
  json::object out{{"current", a.from},
                   {"available", to},
                   {"applied", false},
                   {"source", source},
                   {"restart", restart}};
  VerbReply r{0, json::serialize(out), {}};
  // After the reply is on its way: the watchdog waits for its pid here before it stops us.
  r.after = [&ctx, a] { (void)write_attempt(ctx.file(kPendingFile), a); };
  return r;
}

VerbReply do_apply(PluginContext& ctx, const UpdateArgs& args,
                   const std::function<void(const std::string&)>& chunk) {
  if (auto p = in_progress(ctx)) {
    return failure("an update is in progress already (" + describe(*p) + ", watchdog pid " +
                   std::to_string(p->watchdog_pid) + ")");
  }
  auto install = locate_install(ctx.self.exe);
  if (!install) return failure(install.error());
  auto highest = load_highest_installed(ctx.file(kHighestFile));
  if (!highest) return failure(highest.error());
  Error err{Errc::invalid, ""};
  auto source = source_for(ctx, args, &err);
  if (!source) return failure(err);
  PrepareContext pc;
  pc.key = ctx.settings.release_key;
  pc.running = ctx.running;
  pc.highest = *highest;
  pc.work_dir = ctx.file("tmp");
  pc.store = ctx.store.get();
  pc.install = &*install;
  pc.max_archive_bytes = ctx.settings.max_archive_bytes;
  PrepareRequest req;
  req.tag = args.ref;
  req.force = args.force;
  if (args.progress) {
    pc.progress_for = [chunk](const Candidate& c) {
      return progress_printer(c.archive_name, chunk);
    };
  }
  auto prepared = prepare_update(*source, pc, req);
  if (!prepared) return failure(prepared.error());
  const auto& c = prepared->candidate;
  if (prepared->up_to_date) {
    return {0,
            json::serialize(json::object{{"current", ctx.running.str()},
                                         {"available", c.version.str()},
                                         {"applied", false},
                                         {"up_to_date", true},
                                         {"source", prepared->source}}),
            {}};
  }
  if (ctx.store) ctx.store->prune(ctx.settings.keep_archives, c.version);
  (void)ctx.host.heartbeat_set(ctx.heartbeat_json());
  return start_restart(ctx, *install, "update", c.version.str(), prepared->source);
}

VerbReply do_rollback(PluginContext& ctx) {
  if (auto p = in_progress(ctx)) {
    return failure("an update is in progress already (" + describe(*p) + ")");
  }
  auto install = locate_install(ctx.self.exe);
  if (!install) return failure(install.error());
  if (!install->previous) {
    return failure("there is no previous version to go back to: " +
                   (install->prefix / "lib/mesh/previous").string() +
                   " does not exist (no update was applied to this install yet)");
  }
  const std::string prev = *install->previous;
  if (prev == install->running) return failure("the previous version " + prev + " is running");
  std::error_code ec;
  if (!fs::is_regular_file(install->version_dir(prev) / "bin" / "mesh", ec)) {
    return failure("the previous version's tree " + install->version_dir(prev).string() +
                   " is incomplete (no bin/mesh)");
  }
  return start_restart(ctx, *install, "rollback", prev, install->version_dir(prev).string());
}

// --check: what the source and the members offer, without applying anything.
VerbReply do_check(PluginContext& ctx, const UpdateArgs& args) {
  json::object out{{"current", ctx.running.str()},
                   {"available", nullptr},
                   {"applied", false},
                   {"source", args.from ? "peer " + *args.from : ctx.settings.source},
                   {"signed", false}};
  auto highest = load_highest_installed(ctx.file(kHighestFile));
  std::optional<SemVer> mark = highest ? *highest : std::nullopt;
  bool newer_somewhere = false;
  std::string source_error;
  Error err{Errc::invalid, ""};
  if (auto source = source_for(ctx, args, &err)) {
    out["source"] = source->describe();
    PrepareContext pc;
    pc.key = ctx.settings.release_key;
    pc.running = ctx.running;
    pc.highest = mark;
    PrepareRequest req;
    req.tag = args.ref;
    req.force = args.force;
    req.check_only = true;
    auto p = prepare_update(*source, pc, req);
    if (p) {
      out["latest"] = p->candidate.version.str();
      if (!p->up_to_date && !p->older) {
        out["available"] = p->candidate.version.str();
        out["signed"] = p->signed_ok;
        newer_somewhere = true;
      }
      if (!p->note.empty()) out["note"] = p->note;
    } else {
      source_error = p.error().message + " [" + std::string(errc_name(p.error().code)) + "]";
    }
  } else {
    source_error = err.message;
  }
  if (!source_error.empty()) out["source_error"] = source_error;

  // Members: what their heartbeats say they run and serve; the best newer one is checked.
  json::array peers;
  std::optional<std::pair<SemVer, PeerInfo>> best;
  for (const auto& p : ctx.peers()) {
    json::array serves;
    for (const auto& v : p.serves) {
      serves.emplace_back(v);
      auto sv = parse_semver(v);
      if (sv && ctx.running < *sv && p.up && (!best || best->first < *sv)) best.emplace(*sv, p);
    }
    peers.push_back(json::object{{"name", p.name},
                                 {"id", p.id},
                                 {"state", p.up ? "up" : "down"},
                                 {"version", p.version},
                                 {"serves", serves}});
  }
  out["peers"] = std::move(peers);
  out["from_peer"] = nullptr;
  if (best && !args.from) {
    json::object fp{{"name", best->second.name},
                    {"id", best->second.id},
                    {"version", best->first.str()},
                    {"signed", false}};
    if (ctx.settings.release_key) {
      auto src = ctx.peer_source(best->second);
      auto c = src->candidate("v" + best->first.str());
      auto sig = c ? src->signature(*c) : Result<std::string>(c.error());
      auto parsed = sig ? parse_signature(*sig) : Result<Signature>(sig.error());
      Status st = parsed
                      ? verify_signature_header(*ctx.settings.release_key, *parsed, c->archive_name)
                      : Status(parsed.error());
      if (st) {
        fp["signed"] = true;
        newer_somewhere = true;
      } else {
        fp["error"] = st.error().message;
      }
    }
    out["from_peer"] = std::move(fp);
  }
  auto last = read_attempt(ctx.file(kLastFile));
  out["last"] = attempt_value(last ? *last : std::nullopt);
  auto pending = in_progress(ctx);
  out["pending"] = attempt_value(pending);
  if (!highest) out["state_error"] = highest.error().message;
  if (!source_error.empty() && !newer_somewhere) {
    return failure("cannot check " + std::string(out["source"].as_string()) + ": " + source_error);
  }
  return {0, json::serialize(out), {}};
}

}  // namespace

Result<UpdateArgs> parse_update_args(const std::vector<std::string_view>& args) {
  UpdateArgs a;
  auto usage = [](const std::string& why) {
    return make_error(Errc::invalid, why + "\n" + kUpdateUsage);
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string_view::npos && arg.rfind("--", 0) == 0) {
      value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    }
    auto take = [&]() -> std::optional<std::string> {
      if (value) return value;
      if (i + 1 < args.size()) return std::string(args[++i]);
      return std::nullopt;
    };
    if (arg == "--check" && !value) {
      a.check = true;
    } else if (arg == "--force" && !value) {
      a.force = true;
    } else if (arg == "--rollback" && !value) {
      a.rollback = true;
    } else if (arg == "--progress" && !value) {
      a.progress = true;
    } else if (arg == "--ref") {
      auto v = take();
      if (!v) return usage("--ref needs a version tag (vX.Y.Z)");
      auto sv = parse_tag(*v);
      if (!sv) return usage("--ref " + *v + " is not a version tag (vX.Y.Z)");
      a.ref = "v" + sv->str();
    } else if (arg == "--from") {
      auto v = take();
      if (!v || v->empty() || v->size() > 128) return usage("--from needs a member's name or id");
      a.from = *v;
    } else {
      return usage("unknown argument '" + std::string(args[i]) + "'");
    }
  }
  if (a.rollback && (a.check || a.ref || a.from || a.force)) {
    return usage("--rollback goes back to the previous version and takes no other option");
  }
  return a;
}

VerbReply run_update(PluginContext& ctx, const UpdateArgs& args, bool /*json*/,
                     const std::function<void(const std::string&)>& chunk) {
  if (args.rollback) return do_rollback(ctx);
  if (args.check) return do_check(ctx, args);
  return do_apply(ctx, args, chunk);
}

}  // namespace mesh::updater
