// `mesh update`: the user's side of the updater plugin's `update` verb. The daemon finds,
// verifies and unpacks the release and starts the watchdog (cli/update_watch.cpp); this waits
// for the watchdog's verdict in <root>/data/updater/last.json and says what happened. Also
// routes the hidden `mesh __update-watch`.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli.hpp"
#include "mesh/app/app.hpp"
#include "mesh/base/files.hpp"

namespace mesh::cli {
namespace json = boost::json;
namespace fs = std::filesystem;

int update_watch(const Globals& g, std::vector<std::string> args);

namespace {

constexpr const char* kUpdateUsage =
    "mesh update [--check] [--ref vX.Y.Z] [--from PEER] [--force] [--rollback]";
constexpr const char* kHelp =
    "Finds, verifies and applies a signed release, then restarts the daemon on it.\n"
    "\n"
    "  --check       only say what is available (from the source and from members)\n"
    "  --ref TAG     that release (vX.Y.Z) instead of the newest\n"
    "  --from PEER   fetch it from a member's node (name or id) instead of the source\n"
    "  --force       allow installing an older version than the highest installed here\n"
    "  --rollback    go back to the previous version\n"
    "\n"
    "Every archive must carry a valid minisign signature by [plugins.updater] release_key,\n"
    "whoever served it. The new version runs beside the old one; if it fails its health check\n"
    "it is rolled back automatically. See docs/updates.md.\n";
// The daemon's own limits end a download long before this (30 min per attempt).
constexpr auto kCallTimeout = std::chrono::hours(2);

std::optional<json::value> read_json(const fs::path& file) {
  auto text = read_file(file, 64 * 1024);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(*text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v;
}

std::int64_t num(const json::value& v, std::string_view key) {
  if (!v.is_object()) return 0;
  auto* p = v.as_object().if_contains(key);
  return p && p->is_int64() ? p->as_int64() : 0;
}

std::string summary(const json::value& a) {
  std::string s = str(a, "summary");
  if (!s.empty()) return s;
  std::string result = str(a, "result");
  std::string what = str(a, "kind") == "rollback" ? "rollback" : "update";
  if (result == "updated") return "switched from " + str(a, "from") + " to " + str(a, "to");
  if (result == "rolled_back") {
    return "the " + what + " to " + str(a, "to") + " failed its health check and was rolled " +
           "back to " + str(a, "from") + ": " + str(a, "reason");
  }
  if (result == "aborted")
    return "the " + what + " to " + str(a, "to") + " did not start: " + str(a, "reason");
  return "the " + what + " to " + str(a, "to") + " failed and " + str(a, "from") +
         " did not come back either: " + str(a, "reason") + " (start it: mesh start)";
}

void render_check(const json::value& doc) {
  std::cout << "mesh " << str(doc, "current") << " runs on this node\n";
  std::string source = str(doc, "source");
  if (!str(doc, "source_error").empty()) {
    std::cout << "source   " << source << ": cannot check: " << str(doc, "source_error") << "\n";
  } else if (!str(doc, "available").empty()) {
    std::cout << "source   " << source << ": " << str(doc, "available") << " is available";
    if (str(doc, "signed") == "yes") {
      std::cout << ", signed by the release key (apply it: mesh update)\n";
    } else {
      std::cout << " but not verified: " << str(doc, "note") << "\n";
    }
  } else {
    std::cout << "source   " << source << ": up to date";
    if (!str(doc, "latest").empty()) std::cout << " (latest " << str(doc, "latest") << ")";
    std::cout << "\n";
  }
  const auto* peers = doc.as_object().if_contains("peers");
  if (peers && peers->is_array() && !peers->as_array().empty()) {
    std::cout << "members\n";
    for (const auto& p : peers->as_array()) {
      std::string v = str(p, "version");
      std::cout << "  " << str(p, "name") << "  " << str(p, "state") << "  "
                << (v.empty() ? "version unknown (no updater heard)" : "runs " + v);
      const auto* serves = p.as_object().if_contains("serves");
      if (serves && serves->is_array() && !serves->as_array().empty()) {
        std::cout << ", serves";
        for (const auto& s : serves->as_array()) std::cout << " " << s.as_string().c_str();
      }
      std::cout << "\n";
    }
  }
  const auto& fp = doc.as_object().at("from_peer");
  if (fp.is_object()) {
    std::cout << "newer    " << str(fp, "version") << " from " << str(fp, "name");
    if (str(fp, "signed") == "yes") {
      std::cout << ", signed by the release key (apply it: mesh update --from " << str(fp, "name")
                << ")\n";
    } else {
      std::cout << ", not verified" << (str(fp, "error").empty() ? "" : ": " + str(fp, "error"))
                << "\n";
    }
  }
  if (const auto* last = doc.as_object().if_contains("last"); last && last->is_object()) {
    std::cout << "last     " << summary(*last) << "\n";
  }
  if (const auto* p = doc.as_object().if_contains("pending"); p && p->is_object()) {
    std::cout << "now      " << summary(*p) << "\n";
  }
}

// Waits for the watchdog's verdict on `attempt`.
int wait_for_outcome(const Globals& g, const json::value& reply, const json::value& restart) {
  const fs::path data = g.root / "data" / "updater";
  const std::string attempt = str(restart, "attempt");
  const auto watchdog = static_cast<pid_t>(num(restart, "watchdog_pid"));
  // The plugin says how long (its health timeout plus margins); 3 min if it could not.
  const auto wait_s = num(restart, "wait_s") > 0 ? num(restart, "wait_s") : 180;
  const bool tty = !g.json && ::isatty(2);
  if (tty) {
    std::cerr << (str(restart, "kind") == "rollback" ? "going back to "
                                                     : "verified; restarting on ")
              << str(restart, "to") << " ...\n";
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  std::optional<json::value> last;
  for (int gone_checks = 0;;) {
    last = read_json(data / "last.json");
    if (last && str(*last, "attempt") == attempt) break;
    if (watchdog > 0 && ::kill(watchdog, 0) != 0 && ++gone_checks > 3) {
      return error("the update watchdog (pid " + std::to_string(watchdog) +
                   ") ended without a result; see " + (g.root / "logs" / "update.log").string());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return error("no result from the update watchdog within " + std::to_string(wait_s) +
                   " s; see " + (g.root / "logs" / "update.log").string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string result = str(*last, "result");
  const bool ok = result == "updated";
  json::object out{{"current", str(*last, "running")},
                   {"available", str(reply, "available")},
                   {"applied", ok},
                   {"source", str(reply, "source")},
                   {"previous", str(*last, "from")},
                   {"result", result}};
  if (!ok) out["reason"] = str(*last, "reason");
  if (g.json) print_json(out);
  if (!ok) return error(summary(*last));
  if (!g.json) {
    if (str(*last, "kind") == "rollback") {
      std::cout << "rolled back from " << str(*last, "from") << " to " << str(*last, "to")
                << "; the daemon runs " << str(*last, "to") << "\n";
    } else {
      std::cout << "updated from " << str(*last, "from") << " to " << str(*last, "to")
                << "; the daemon runs " << str(*last, "to") << " (source: " << str(reply, "source")
                << ")\n";
    }
  }
  return kOk;
}

int cmd_update(const Globals& g, std::vector<std::string> args) {
  // Usage errors before the daemon is asked (the CLI contract: exit 2).
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--ref" || a == "--from") {
      if (i + 1 >= args.size() || args[i + 1].empty() || args[i + 1][0] == '-')
        return error(a + " needs a value\nusage: " + std::string(kUpdateUsage), kUsage);
      ++i;
    } else if (a != "--check" && a != "--force" && a != "--rollback") {
      return error("unexpected argument '" + a + "'\nusage: " + std::string(kUpdateUsage), kUsage);
    }
  }
  std::vector<std::string> forward = args;
  if (!g.json && ::isatty(2)) forward.push_back("--progress");
  bool progress_open = false;
  auto on_chunk = [&](const std::string& chunk) {
    std::cerr << chunk << std::flush;
    progress_open = !chunk.empty() && chunk.back() != '\n';
  };
  auto r =
      control::call(app::socket_path(g.root), {"update", forward, true}, kCallTimeout, on_chunk);
  if (progress_open) std::cerr << "\n";
  if (!r) {
    if (r.error().code == Errc::not_found) {
      return error(daemon_down_message(g));
    }
    // The daemon may have been stopped for the restart before its answer got out: the
    // watchdog's pending.json says which attempt to wait for.
    if (auto pending = read_json(g.root / "data" / "updater" / "pending.json")) {
      return wait_for_outcome(g, json::object{{"available", str(*pending, "to")}}, *pending);
    }
    return error("cannot reach the mesh daemon: " + r.error().message);
  }
  if (r->exit_code != 0) {
    if (r->exit_code == kUsage && r->output.rfind("unknown command", 0) == 0) {
      return error(
          "the updater plugin is not running on this node: add \"updater\" to "
          "[plugins] enabled in mesh.toml, then run: mesh reload");
    }
    return error(r->output, r->exit_code);
  }
  json::value doc;
  if (!parse_reply(*r, &doc) || !doc.is_object()) return kFailed;
  if (const auto* restart = doc.as_object().if_contains("restart");
      restart && restart->is_object()) {
    return wait_for_outcome(g, doc, *restart);
  }
  if (g.json) {
    print_json(doc);
  } else if (doc.as_object().contains("peers")) {
    render_check(doc);
  } else {
    std::cout << "mesh " << str(doc, "current") << " is up to date (" << str(doc, "source")
              << ")\n";
  }
  return kOk;
}

}  // namespace

std::vector<Command> update_commands() {
  return {{"update", "apply the latest signed release in place (or --from a member, --rollback)",
           kUpdateUsage, cmd_update, kHelp,
           {"--check", "--ref", "--from", "--force", "--rollback"}}};
}

int run_update_watch(const Globals& g, std::vector<std::string> args) {
  return update_watch(g, std::move(args));
}

}  // namespace mesh::cli
