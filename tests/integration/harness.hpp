// Integration-test harness: real `mesh` processes on 127.0.0.1 with temporary roots, driven
// through the real CLI, curl and git. No mocks.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <thread>

namespace mesh::test {

struct Proc {
  int exit = -1;  // exit status, or 128+signal
  std::string out;
  std::string err;
};

// Runs argv (no shell) with extra "K=V" environment entries; kills it after timeout.
Proc run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
         std::chrono::seconds timeout = std::chrono::seconds(60));

class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// True while pid runs (a zombie counts as gone).
bool process_alive(int pid);

// The mesh binary and the test plugin directory (from the build).
std::string mesh_bin();
std::string test_plugin_dir();

// One node: a root under a temp dir, driven through the `mesh` CLI.
class Node {
 public:
  Node(const std::filesystem::path& parent, const std::string& name);
  ~Node();  // kills a daemon still running

  // `mesh --root <root> args...`
  Proc mesh(const std::vector<std::string>& args,
            std::chrono::seconds timeout = std::chrono::seconds(60)) const;
  // Same with --json; parses stdout (fails the test on malformed JSON).
  boost::json::value mesh_json(const std::vector<std::string>& args) const;

  // Writes mesh.toml: listen on 127.0.0.1:0, the test plugin dir, the given enabled plugins,
  // and `extra` appended verbatim.
  void write_config(const std::vector<std::string>& enabled, const std::string& extra = "") const;
  // `mesh start --detach --json`; records pid and listen; returns the Proc for inspection.
  // listen: an explicit HOST:PORT (default: the config's 127.0.0.1:0).
  Proc start(const std::string& listen = "");
  // Starts again on the port it had (a real node keeps its port across restarts).
  Proc restart();
  Proc stop();
  void kill9();

  const std::filesystem::path& root() const { return root_; }
  const std::string& name() const { return name_; }
  const std::string& listen() const { return listen_; }
  int port() const;
  int pid() const { return pid_; }
  std::string http_url(const std::string& path) const;
  std::string https_url(const std::string& path) const;

 private:
  std::filesystem::path root_;
  std::string name_;
  std::string listen_;
  int pid_ = -1;
  std::size_t out_checked_ = 0;  // bytes of daemon.out already scanned for sanitizer reports

  void check_daemon_out();
};

// Poll until pred() holds or the timeout passes; returns pred()'s last value.
template <typename F>
bool eventually(F pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

}  // namespace mesh::test
