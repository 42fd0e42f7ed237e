// `mesh __update-watch` (hidden): the watchdog of `mesh update`. The updater plugin starts it
// detached from the daemon, and it is the *running, known-good* version's binary: so even a new
// version that cannot start at all is rolled back by code that worked. It
//   1. notes what runs (control socket: version, pid, the members whose links are up),
//   2. stops the daemon gracefully (its queues and feeds are durable on disk),
//   3. switches <prefix>/lib/mesh/current to the new version (previous -> the old one),
//   4. starts the new daemon on the same root and listen address (`mesh start --detach`),
//   5. decides by a health check within the deadline: the control socket answers with the new
//      version, every enabled plugin is running, the links that were up are up again;
//   6. on failure stops the new daemon, switches back, starts the old version itself;
//   7. records the outcome in <root>/data/updater/last.json (and its own log).
// Formats and rules: docs/updates.md. It talks to daemons only through the control socket and
// their CLI, which CLI.md keeps stable across versions.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "cli.hpp"
#include "mesh/app/app.hpp"
#include "mesh/base/files.hpp"

extern char** environ;

namespace mesh::cli {
namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kStopDeadline = std::chrono::seconds(30);
constexpr auto kStartDeadline = std::chrono::seconds(60);
constexpr auto kPidWait = std::chrono::seconds(10);

void log(const std::string& line) {
  std::time_t t = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  std::cout << stamp << " [update-watch " << ::getpid() << "] " << line << std::endl;
}

bool alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(stat, s);
  auto close = s.rfind(')');
  return close == std::string::npos || close + 2 >= s.size() || s[close + 2] != 'Z';
}

bool wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
  auto end = Clock::now() + timeout;
  while (alive(pid)) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

bool valid_version(const std::string& v) {
  if (v.empty() || v.size() > 64 || v[0] == '.' || v[0] == '-') return false;
  for (char c : v) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '+')
      return false;
  }
  return v.find("..") == std::string::npos;
}

struct Proc {
  int exit = -1;
  std::string out;
  std::string err;
};

// argv only; output captured; killed after the timeout.
Proc run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  Proc p;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return p;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return p;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    p.err = argv[0] + ": " + std::strerror(rc);
    return p;
  }
  auto end = Clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      p.err += " [killed after " + std::to_string(timeout.count()) + " s]";
      break;
    }
    if (::poll(fds, 2, static_cast<int>(std::min<long>(left, 1000))) < 0 && errno != EINTR) break;
    for (auto& f : fds) {
      if (f.fd < 0 || !(f.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(f.fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(f.fd);
        f.fd = -1;
        --open_fds;
      } else if ((&f == &fds[0] ? p.out : p.err).size() < (1 << 20)) {
        (&f == &fds[0] ? p.out : p.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  p.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return p;
}

std::string first_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.rfind("error: ", 0) == 0) s.erase(0, 7);
  return s.substr(0, 600);
}

// One link switched atomically: a new link beside it, renamed over it.
Status switch_link(const fs::path& link, const std::string& target) {
  fs::path tmp = link;
  tmp += ".new-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp, ec);
  if (!ec) fs::rename(tmp, link, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return make_error(Errc::io,
                      "cannot point " + link.string() + " at " + target + ": " + ec.message());
  }
  int dfd = ::open(link.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

// Tolerant lookups: a daemon's answer must never throw here, where a throw would leave the
// node without a daemon.
const json::value& member(const json::value& v, std::string_view key) {
  static const json::value kNull;
  if (!v.is_object()) return kNull;
  auto* p = v.as_object().if_contains(key);
  return p ? *p : kNull;
}
const json::array& items(const json::value& v) {
  static const json::array kEmpty;
  return v.is_array() ? v.as_array() : kEmpty;
}

std::optional<std::string> link_target(const fs::path& link) {
  std::error_code ec;
  auto t = fs::read_symlink(link, ec);
  if (ec) return std::nullopt;
  return t.string();
}

struct Watch {
  Globals g;
  std::string attempt, kind, from, to, listen;
  fs::path prefix;
  std::chrono::seconds health{60};
  // Set when the daemon runs as a systemd service: it is stopped and started as that unit.
  std::string unit;
  std::string scope;  // "user" or "system"
  std::int64_t started_ms = 0;
  std::int64_t watchdog_pid = ::getpid();
  // How far run_watch() got, for restore() (also after an unexpected error).
  bool stopped = false;
  std::optional<std::string> prev_before;
  std::optional<pid_t> new_pid;

  fs::path data() const { return g.root / "data" / "updater"; }
  fs::path lib() const { return prefix / "lib" / "mesh"; }
  fs::path binary(const std::string& v) const { return lib() / "versions" / v / "bin" / "mesh"; }

  Result<json::value> call(const std::string& verb, std::chrono::seconds timeout) const {
    auto r = control::call(app::socket_path(g.root), {verb, {}, true}, timeout);
    if (!r) return r.error();
    if (r->exit_code != 0) return make_error(Errc::state, first_line(r->output));
    boost::system::error_code ec;
    auto v = json::parse(r->output, ec);
    if (ec) return make_error(Errc::invalid, "a malformed answer to " + verb);
    return v;
  }

  int finish(const std::string& result, const std::string& reason, const std::string& running) {
    json::object o{{"attempt", attempt},
                   {"kind", kind},
                   {"from", from},
                   {"to", to},
                   {"started_ms", started_ms},
                   {"watchdog_pid", watchdog_pid},
                   {"result", result},
                   {"reason", reason},
                   {"running", running},
                   {"ended_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count()}};
    if (auto st = write_file_atomic(data() / "last.json", json::serialize(o) + "\n"); !st)
      log("cannot write last.json: " + st.error().message);
    std::error_code ec;
    fs::remove(data() / "pending.json", ec);
    log(result + (reason.empty() ? "" : ": " + reason) + "; running " +
        (running.empty() ? "nothing" : running));
    return result == "updated" ? kOk : kFailed;
  }

  // The plugin writes our pid into pending.json after its reply to `mesh update` is on the
  // way; stopping the daemon before that could cut the reply.
  void wait_for_handover() const {
    auto end = Clock::now() + kPidWait;
    while (Clock::now() < end) {
      auto text = read_file(data() / "pending.json", 64 * 1024);
      boost::system::error_code ec;
      json::value v = text ? json::parse(*text, ec) : json::value();
      if (!ec && v.is_object()) {
        auto* p = v.as_object().if_contains("watchdog_pid");
        // Our pid, or -1 when we run in a systemd unit of our own.
        if (p && p->is_int64() && (p->as_int64() == ::getpid() || p->as_int64() == -1)) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    log("pending.json never named this watchdog; going on");
  }

  Proc systemctl(const std::string& verb) const {
    std::vector<std::string> argv{"/usr/bin/systemctl"};
    if (scope == "user") argv.push_back("--user");
    argv.insert(argv.end(), {verb, unit});
    if (!fs::exists(argv[0])) argv[0] = "/bin/systemctl";
    return run(argv, std::chrono::seconds(90));
  }

  // Graceful stop of the daemon that runs now: as its unit under systemd (which would treat
  // a stop through the socket as the service ending), else through the control socket.
  Status stop_now() const {
    if (!unit.empty()) {
      auto p = systemctl("stop");
      if (p.exit != 0)
        return make_error(Errc::state, "systemctl stop " + unit + ": " + first_line(p.err));
      return {};
    }
    if (auto r = call("stop", std::chrono::seconds(10)); !r) return r.error();
    return {};
  }

  // Starts `version` on the same root and address; its pid or why not. Under systemd the
  // unit starts <prefix>/bin/mesh, which the current link makes `version`.
  Result<pid_t> start(const std::string& version) const {
    if (!unit.empty()) {
      auto p = systemctl("start");
      if (p.exit != 0) {
        return make_error(Errc::state,
                          "systemctl start " + unit + " (" + version + "): " + first_line(p.err));
      }
      for (auto end = Clock::now() + kStartDeadline; Clock::now() < end;) {
        if (auto s = call("status", std::chrono::seconds(5)); s) {
          const auto& pid = member(member(*s, "node"), "pid");
          if (pid.is_int64() && pid.as_int64() > 0) return static_cast<pid_t>(pid.as_int64());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      return make_error(Errc::state,
                        "mesh " + version + " (" + unit + ") did not answer within 60 s");
    }
    auto p = run({binary(version).string(), "--root", g.root.string(), "--json", "start",
                  "--detach", "--listen", listen},
                 kStartDeadline);
    if (p.exit != 0) {
      return make_error(Errc::state, "mesh " + version + " did not start: " +
                                         first_line(p.err.empty() ? p.out : p.err));
    }
    boost::system::error_code ec;
    auto v = json::parse(p.out, ec);
    const auto& pid = member(v, "pid");
    if (ec || !pid.is_int64() || pid.as_int64() <= 0) {
      return make_error(Errc::invalid, "mesh " + version + " start printed no pid: " + p.out);
    }
    return static_cast<pid_t>(pid.as_int64());
  }

  // Graceful through the control socket; then signals, to this pid only.
  void stop(pid_t pid) const {
    if (auto st = stop_now(); !st) log("stop: " + st.error().message);
    if (wait_gone(pid, std::chrono::seconds(20))) return;
    log("pid " + std::to_string(pid) + " did not stop; SIGTERM");
    ::kill(pid, SIGTERM);
    if (wait_gone(pid, std::chrono::seconds(10))) return;
    log("pid " + std::to_string(pid) + " still runs; SIGKILL");
    ::kill(pid, SIGKILL);
    wait_gone(pid, std::chrono::seconds(5));
  }

  // Empty when healthy; else what failed.
  std::string health_check(pid_t pid, const std::string& version,
                           const std::set<std::string>& peers_up) const {
    auto end = Clock::now() + health;
    std::string waiting = "the control socket did not answer";
    while (Clock::now() < end) {
      if (!alive(pid)) {
        return "the new daemon (pid " + std::to_string(pid) + ") exited; see " +
               (g.root / "logs" / "daemon.out").string();
      }
      auto status = call("status", std::chrono::seconds(5));
      if (status && status->is_object()) {
        std::string v = str(member(*status, "node"), "version");
        if (v != version) return "the new daemon reports version " + v + ", not " + version;
        auto plugins = call("plugins", std::chrono::seconds(5));
        std::string not_running;
        if (plugins && plugins->is_array()) {
          for (const auto& p : items(*plugins)) {
            if (str(p, "enabled") != "yes" || str(p, "state") == "running") continue;
            std::string what = "plugin " + str(p, "id") + " is " + str(p, "state");
            if (!str(p, "error").empty()) what += " (" + str(p, "error") + ")";
            // A plugin that failed to load or start will not recover by waiting.
            if (str(p, "state") == "failed") return what;
            not_running = what;
          }
        } else {
          not_running = "the plugins list did not answer";
        }
        std::set<std::string> up;
        for (const auto& p : items(member(*status, "peers"))) {
          if (str(p, "state") == "up") up.insert(str(p, "id"));
        }
        std::string missing;
        for (const auto& id : peers_up) {
          if (!up.count(id)) missing += (missing.empty() ? "" : ", ") + id;
        }
        if (not_running.empty() && missing.empty()) return {};
        waiting = !not_running.empty() ? not_running : "links not back up: " + missing;
      } else if (!status) {
        waiting = "the control socket did not answer (" + status.error().message + ")";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return waiting + " within " + std::to_string(health.count()) + " s";
  }

  // Keeps current and previous; removes other version trees no process runs from.
  void prune() const {
    std::set<std::string> keep{to, from};
    std::error_code ec;
    for (fs::directory_iterator it("/proc", ec), e; !ec && it != e; it.increment(ec)) {
      std::error_code rec;
      auto exe = fs::read_symlink(it->path() / "exe", rec);
      if (rec) continue;
      auto rel = exe.lexically_relative(fs::weakly_canonical(lib() / "versions", rec));
      if (!rel.empty() && *rel.begin() != "..") keep.insert(rel.begin()->string());
    }
    for (fs::directory_iterator it(lib() / "versions", ec), e; !ec && it != e; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (!valid_version(name) || keep.count(name)) continue;
      std::error_code rec;
      fs::remove_all(it->path(), rec);
      log("removed old version " + name + (rec ? " (failed: " + rec.message() + ")" : ""));
    }
  }

  int run_watch() {
    log(kind + " " + attempt + ": " + from + " -> " + to + " on " + g.root.string() +
        ", listening on " + listen);
    wait_for_handover();
    auto status = call("status", std::chrono::seconds(10));
    if (!status || !status->is_object()) {
      return finish("aborted",
                    "the daemon did not answer before the restart: " +
                        (status ? std::string("bad status") : status.error().message),
                    from);
    }
    const auto& pid_value = member(member(*status, "node"), "pid");
    auto old_pid = pid_value.is_int64() ? static_cast<pid_t>(pid_value.as_int64()) : 0;
    if (old_pid <= 0) return finish("aborted", "the daemon's status has no pid", from);
    std::set<std::string> peers_up;
    for (const auto& p : items(member(*status, "peers"))) {
      if (str(p, "state") == "up") peers_up.insert(str(p, "id"));
    }
    log("stopping the daemon (pid " + std::to_string(old_pid) + "), " +
        std::to_string(peers_up.size()) + " links up");
    if (auto st = stop_now(); !st) {
      return finish("aborted", "the daemon refused to stop: " + st.error().message, from);
    }
    if (!wait_gone(old_pid, kStopDeadline)) {
      return finish("aborted", "the daemon did not stop within 30 s; nothing was switched", from);
    }
    stopped = true;
    prev_before = link_target(lib() / "previous");
    if (auto st = switch_link(lib() / "previous", "versions/" + from); !st) {
      return restore(st.error().message);
    }
    if (auto st = switch_link(lib() / "current", "versions/" + to); !st) {
      return restore(st.error().message);
    }
    log("switched to " + to + "; starting it");
    auto pid = start(to);
    std::string why;
    if (!pid) {
      why = pid.error().message;
    } else {
      new_pid = *pid;
      why = health_check(*pid, to, peers_up);
    }
    if (why.empty()) {
      prune();
      return finish("updated", "", to);
    }
    log("health check failed: " + why);
    return restore(why);
  }

  // Back to `from`: stop what runs, switch the links back, start the old version.
  int restore(const std::string& why) {
    if (!stopped) return finish("aborted", why, from);  // the old daemon still runs
    if (new_pid && alive(*new_pid)) stop(*new_pid);
    std::string broken;
    if (auto st = switch_link(lib() / "current", "versions/" + from); !st)
      broken = st.error().message;
    std::error_code ec;
    if (prev_before) {
      (void)switch_link(lib() / "previous", *prev_before);
    } else {
      fs::remove(lib() / "previous", ec);
    }
    auto pid = start(from);
    if (!pid) broken += (broken.empty() ? "" : "; ") + pid.error().message;
    if (!broken.empty()) return finish("broken", why + "; going back failed too: " + broken, "");
    if (kind == "update") {
      fs::remove_all(lib() / "versions" / to, ec);  // a failed tree; the archive is kept
    }
    return finish("rolled_back", why, from);
  }
};

}  // namespace

int update_watch(const Globals& g, std::vector<std::string> args) {
  Watch w;
  w.g = g;
  w.g.root = fs::absolute(g.root);
  w.started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  std::map<std::string, std::string> opt;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) opt[args[i]] = args[i + 1];
  for (const char* k :
       {"--attempt", "--kind", "--prefix", "--from", "--to", "--listen", "--health-timeout"}) {
    if (!opt.count(k) || args.size() % 2 != 0) {
      return error(
          std::string("__update-watch is started by the updater plugin (missing ") + k + ")",
          kUsage);
    }
  }
  w.attempt = opt["--attempt"];
  w.kind = opt["--kind"];
  w.prefix = opt["--prefix"];
  w.from = opt["--from"];
  w.to = opt["--to"];
  w.listen = opt["--listen"];
  if (opt.count("--systemd-unit")) {
    w.unit = opt["--systemd-unit"];
    w.scope = opt["--systemd-scope"];
    if (w.unit.size() < 9 || w.unit.substr(w.unit.size() - 8) != ".service" ||
        w.unit.find('/') != std::string::npos || (w.scope != "user" && w.scope != "system")) {
      return error("__update-watch: bad --systemd-unit/--systemd-scope", kUsage);
    }
  }
  try {
    w.health = std::chrono::seconds(std::stoi(opt["--health-timeout"]));
  } catch (const std::exception&) {
    return error("__update-watch: bad --health-timeout", kUsage);
  }
  if ((w.kind != "update" && w.kind != "rollback") || !valid_version(w.from) ||
      !valid_version(w.to) || !w.prefix.is_absolute() || w.health.count() < 1) {
    return error("__update-watch: bad arguments", kUsage);
  }
  for (const auto& v : {w.from, w.to}) {
    std::error_code ec;
    if (!fs::is_regular_file(w.binary(v), ec)) {
      return error("__update-watch: no " + w.binary(v).string(), kFailed);
    }
  }
  try {
    return w.run_watch();
  } catch (const std::exception& e) {
    // Whatever state this left, the old version is the one to bring back.
    log(std::string("internal error: ") + e.what());
    return w.restore(std::string("watchdog error: ") + e.what());
  }
}

}  // namespace mesh::cli
