#include "harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

extern char** environ;

namespace mesh::test {
namespace fs = std::filesystem;

Proc run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
         std::chrono::seconds timeout) {
  Proc p;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return p;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  // Extra entries replace inherited ones of the same name (getenv takes the first match, so
  // appending a second HOME= would silently keep the user's).
  std::vector<std::string> envs;
  auto name_of = [](const std::string& kv) { return kv.substr(0, kv.find('=') + 1); };
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    bool overridden = std::any_of(env.begin(), env.end(),
                                  [&](const std::string& x) { return name_of(x) == name_of(kv); });
    if (!overridden) envs.push_back(std::move(kv));
  }
  for (const auto& e : env) envs.push_back(e);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    p.err = std::string("spawn failed: ") + std::strerror(rc);
    return p;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  bool killed = false;
  char buf[65536];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0 && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    int n = ::poll(fds, 2, left > 0 ? static_cast<int>(std::min<long>(left, 1000)) : 1000);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? p.out : p.err).append(buf, static_cast<std::size_t>(r));
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  p.exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (killed) p.err += "\n[harness: killed after timeout]";
  return p;
}

TempDir::TempDir(const std::string& tag) {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("mesh-it-" + tag + "-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(rd() % 100000));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!::testing::Test::HasFailure()) fs::remove_all(path_, ec);
}

bool process_alive(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  // An exited daemon may linger as a zombie when PID 1 does not reap orphans.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

std::string mesh_bin() {
  return MESH_BIN;
}
std::string test_plugin_dir() {
  return TEST_PLUGIN_DIR;
}

Node::Node(const fs::path& parent, const std::string& name) : root_(parent / name), name_(name) {
  auto p = mesh({"init", "--name", name});
  EXPECT_EQ(p.exit, 0) << p.err;
}

Node::~Node() {
  if (pid_ <= 0) return;
  if (process_alive(pid_)) {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && process_alive(pid_); ++i) ::usleep(50'000);
    if (process_alive(pid_)) {
      ::kill(pid_, SIGKILL);  // hung: its reports would be incomplete anyway
      return;
    }
  }
  check_daemon_out();
}

// A detached daemon's sanitizer reports (leaks at exit, UBSan, ASan, TSan) land in daemon.out, not
// in the test's output: a report there fails the test that ran the daemon. Each report is counted
// once, so a restart does not blame the next stop for an earlier one.
void Node::check_daemon_out() {
  std::ifstream in(root_ / "logs" / "daemon.out", std::ios::binary);
  if (!in) return;
  in.seekg(static_cast<std::streamoff>(out_checked_));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  out_checked_ += text.size();
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                             "runtime error:", "WARNING: ThreadSanitizer"}) {
    auto at = text.find(marker);
    if (at == std::string::npos) continue;
    auto from = text.rfind('\n', at);
    from = from == std::string::npos ? 0 : from + 1;
    ADD_FAILURE() << name_ << "'s daemon reported (" << (root_ / "logs" / "daemon.out").string()
                  << "):\n"
                  << text.substr(from, 6000);
    return;
  }
}

Proc Node::mesh(const std::vector<std::string>& args, std::chrono::seconds timeout) const {
  std::vector<std::string> argv{mesh_bin(), "--root", root_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, timeout);
}

boost::json::value Node::mesh_json(const std::vector<std::string>& args) const {
  std::vector<std::string> a{"--json"};
  a.insert(a.end(), args.begin(), args.end());
  auto p = mesh(a);
  EXPECT_EQ(p.exit, 0) << "mesh " << args.front() << ": " << p.err;
  boost::system::error_code ec;
  auto v = boost::json::parse(p.out, ec);
  EXPECT_FALSE(ec) << "not JSON: " << p.out;
  return ec ? boost::json::value() : v;
}

void Node::write_config(const std::vector<std::string>& enabled, const std::string& extra) const {
  std::ofstream f(root_ / "mesh.toml", std::ios::trunc);
  f << "[node]\nname = \"" << name_ << "\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n"
    << "[plugins]\nenabled = [";
  for (std::size_t i = 0; i < enabled.size(); ++i) f << (i ? ", " : "") << '"' << enabled[i] << '"';
  f << "]\npaths = [\"" << test_plugin_dir() << "\"]\n\n";
  // Beacons stay on loopback: tests never send to the machine's real networks.
  f << "[discovery]\ntargets = [\"239.255.42.42\", \"127.255.255.255\"]\n"
    << "multicast_if = \"127.0.0.1\"\ninterval_ms = 2000\n\n"
    << extra;
}

Proc Node::restart() {
  return start(listen_);
}

Proc Node::start(const std::string& listen) {
  std::vector<std::string> args{"--json", "start", "--detach"};
  if (!listen.empty()) args.insert(args.end(), {"--listen", listen});
  auto p = mesh(args);
  if (p.exit == 0) {
    boost::system::error_code ec;
    auto v = boost::json::parse(p.out, ec);
    if (!ec) {
      pid_ = static_cast<int>(v.at("pid").to_number<std::int64_t>());
      listen_ = std::string(v.at("listen").as_string());
    }
  }
  return p;
}

Proc Node::stop() {
  auto p = mesh({"stop"});
  if (p.exit == 0) {
    // Sanitizer reports are written as the process exits, after the control socket closed.
    for (int i = 0; i < 200 && process_alive(pid_); ++i) ::usleep(50'000);
    if (!process_alive(pid_)) check_daemon_out();
    pid_ = -1;
  }
  return p;
}

void Node::kill9() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    for (int i = 0; i < 200 && process_alive(pid_); ++i) ::usleep(10'000);
    check_daemon_out();  // what it reported before the kill (no leak check runs on SIGKILL)
  }
  pid_ = -1;
}

int Node::port() const {
  return std::stoi(listen_.substr(listen_.rfind(':') + 1));
}

std::string Node::http_url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}

std::string Node::https_url(const std::string& path) const {
  return "https://localhost:" + std::to_string(port()) + path;
}

}  // namespace mesh::test
