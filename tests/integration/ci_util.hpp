// Helpers of the CI integration tests: three real daemons with the ci plugin and runners, the
// run a push printed, runs and logs as `mesh ci` shows them on a node.
#pragma once

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "trio.hpp"

namespace mesh::test::ci {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string runner_config(bool enabled, const std::string& labels) {
  return std::string("[runner]\nenabled = ") + (enabled ? "true" : "false") + "\nlabels = [" +
         labels + "]\n";
}

// The run `id` (or its prefix) as `mesh ci status --json` shows it on n; null if absent.
inline boost::json::value run_on(const Node& n, const std::string& repo, const std::string& id) {
  auto p = n.mesh({"--json", "ci", "status", repo, "--limit", "100"});
  if (p.exit != 0) return nullptr;
  boost::system::error_code ec;
  auto v = boost::json::parse(p.out, ec);
  if (ec || !v.is_array()) return nullptr;
  for (const auto& r : v.as_array()) {
    if (std::string(r.at("id").as_string()).rfind(id, 0) == 0) return r;
  }
  return nullptr;
}

inline std::string state_on(const Node& n, const std::string& repo, const std::string& id) {
  auto r = run_on(n, repo, id);
  return r.is_null() ? "" : std::string(r.at("state").as_string());
}

inline std::string logs_on(const Node& n, const std::string& repo, const std::string& id) {
  auto p = n.mesh({"ci", "logs", repo, id});
  EXPECT_EQ(p.exit, 0) << n.name() << ": " << p.err;
  return p.out;
}

// Everything there is to say about run `id` when a test's wait for it fails: the run as n
// shows it (attempts, reasons, jobs), its logs, and each node's log lines that name it.
inline std::string explain_run(const std::vector<Node*>& nodes, const Node& n,
                               const std::string& repo, const std::string& id) {
  std::string out = n.mesh({"ci", "status", repo, "--run", id}).out;
  out += "-- logs on " + n.name() + ":\n" + n.mesh({"ci", "logs", repo, id}).out;
  for (const Node* m : nodes) {
    out += "-- " + m->name() + "'s log:\n";
    for (const auto& l : log_lines_with(*m, id.substr(0, 12))) out += "  " + l + "\n";
  }
  return out;
}

// The short run id a push printed ("remote: mesh: CI run 3f2a1b2c3d4e queued (...) -> carol").
inline std::string run_of_push(const Proc& push, std::string* line = nullptr) {
  std::smatch m;
  std::string all = push.out + push.err;
  static const std::regex re("mesh: CI run ([0-9a-f]{12}) ([^\\r\\n]*)");
  if (!std::regex_search(all, m, re)) return "";
  if (line) *line = m[0].str();
  return m[1].str();
}

inline bool group_alive(int pgid) {
  return ::kill(-pgid, 0) == 0;
}

// alice runs no jobs, bob runs shell jobs, carol runs shell (and `carol_plugins`) jobs and has
// the label linux.
struct CiTrio : Trio {
  explicit CiTrio(const std::string& tag, const std::vector<std::string>& carol_plugins = {},
                  const std::string& carol_extra = "")
      : Trio(tag, {"replication", "ci", "runner-shell"}) {
    a.write_config({"replication", "ci", "runner-shell"}, runner_config(false, ""));
    b.write_config({"replication", "ci", "runner-shell"}, runner_config(true, ""));
    std::vector<std::string> cp{"replication", "ci", "runner-shell"};
    cp.insert(cp.end(), carol_plugins.begin(), carol_plugins.end());
    c.write_config(cp, runner_config(true, "\"linux\"") + carol_extra);
  }
  // Commits the pipeline (and files) in work and pushes it to n; returns the push.
  Proc push(const Node& n, const fs::path& work, const std::string& pipeline,
            const std::map<std::string, std::string>& files = {}) {
    fs::create_directories(work / ".mesh");
    std::ofstream(work / ".mesh" / "mesh-ci.yml", std::ios::trunc) << pipeline;
    for (const auto& [p, text] : files) std::ofstream(work / p, std::ios::trunc) << text;
    EXPECT_EQ(git({"add", "-A"}, work).exit, 0);
    EXPECT_EQ(git({"commit", "-q", "--allow-empty", "-m", "ci"}, work).exit, 0);
    return git({"push", http(n, "app"), "HEAD:refs/heads/main"}, work);
  }
  // Waits for every runner to show up in n's `mesh ci runners`.
  bool runners_seen(const Node& n, std::size_t count) {
    return eventually(
        [&] {
          auto v = n.mesh_json({"ci", "runners"});
          std::size_t up = 0;
          for (const auto& r : v.as_array()) up += r.at("state").as_string() == "up";
          return up >= count;
        },
        20s);
  }
};

// Processes whose working directory is under dir (jobs a killed daemon left behind).
inline std::vector<int> processes_under(const fs::path& dir) {
  std::vector<int> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code e2;
    fs::path cwd = fs::read_symlink(it->path() / "cwd", e2);
    if (!e2 && cwd.string().rfind(dir.string(), 0) == 0) out.push_back(std::stoi(name));
  }
  return out;
}

}  // namespace mesh::test::ci
