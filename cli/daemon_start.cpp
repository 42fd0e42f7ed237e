// Starting a daemon in the background (`mesh start --detach`, and `mesh join` on a stopped
// node), and what it says about its plugins once it is ready.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "cli.hpp"
#include "mesh/app/app.hpp"

namespace mesh::cli {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr auto kReadyDeadline = std::chrono::seconds(30);

// The pid a running daemon reports in `status`, "" when none answers.
std::string running_pid(const Globals& g, json::value* status = nullptr) {
  auto r = control::call(app::socket_path(g.root), {"status", {}, true}, std::chrono::seconds(5));
  if (!r || r->exit_code != 0) return "";
  boost::system::error_code ec;
  auto doc = json::parse(r->output, ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("node")) return "";
  if (status) *status = doc;
  return str(doc.at("node"), "pid");
}

// The last "error: " line the daemon wrote to daemon.out after offset.
std::string last_error_line(const fs::path& out_file, std::uintmax_t offset) {
  std::ifstream in(out_file);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.rfind("error: ", 0) == 0) last = line.substr(7);
  }
  return last;
}

}  // namespace

std::vector<std::string> failed_plugin_warnings(const json::value& plugins) {
  std::vector<std::string> out;
  if (!plugins.is_array()) return out;
  for (const auto& p : plugins.as_array()) {
    if (str(p, "state") != "failed") continue;
    std::string why = str(p, "error");
    out.push_back("plugin " + str(p, "id") + " failed to start" + (why.empty() ? "" : ": " + why) +
                  " (see: mesh plugins)");
  }
  return out;
}

Result<Started> start_detached(const Globals& g, const std::optional<std::string>& listen) {
  auto init = app::init_root(g.root, "");
  if (!init) return init.error();
  fs::path out_file = g.root / "logs" / "daemon.out";
  std::error_code ec;
  auto offset = fs::exists(out_file, ec) ? fs::file_size(out_file, ec) : 0;

  // A daemon already answering on this root: say so instead of racing it.
  if (auto pid = running_pid(g); !pid.empty()) {
    return make_error(Errc::exists, "a mesh daemon is already running for " + g.root.string() +
                                        " (pid " + pid + "); stop it with: mesh stop");
  }
  std::vector<std::string> argv{"mesh", "--root", fs::absolute(g.root).string(), "start"};
  if (listen) argv.insert(argv.end(), {"--listen", *listen});
  pid_t pid = ::fork();
  if (pid < 0) return make_error(Errc::io, std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    ::setsid();
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv("/proc/self/exe", cargv.data());
    _exit(127);
  }

  auto deadline = std::chrono::steady_clock::now() + kReadyDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      // The daemon refused to start: its own error line says why.
      std::string why = last_error_line(out_file, offset);
      return make_error(
          Errc::state,
          why.empty() ? "the daemon exited during start-up; see " + out_file.string() : why);
    }
    json::value doc;
    // Only our child counts as ready (another daemon may have won a race for the root).
    if (running_pid(g, &doc) == std::to_string(pid)) {
      Started s;
      s.pid = pid;
      s.listen = str(doc.at("node"), "listen");
      if (const auto* plugins = doc.as_object().if_contains("plugins")) {
        s.warnings = failed_plugin_warnings(*plugins);
      }
      return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return make_error(Errc::io,
                    "the daemon did not become ready within 30 s; see " + out_file.string());
}

}  // namespace mesh::cli
