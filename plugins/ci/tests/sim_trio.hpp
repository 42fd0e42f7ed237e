// Three simulated nodes for the glue's tests: alice (runs no jobs), bob (a shell runner) and
// carol (a shell runner labelled linux), one set of mirrors shared by all (replication at no
// cost), and a work repo that commits and pushes.
#pragma once

#include "ids.hpp"
#include "sim_mesh.hpp"

namespace mesh::ci::sim {

inline const std::string kZero(40, '0');

inline const char* kTwoJobs = R"(pipeline: { name: build }
on: { push: { branches: [main, "release/**"] }, manual: true }
runner: { labels: [linux], fallback: any }
jobs:
  build: { mode: shell, commands: ["echo building $MESH_JOB", "echo built > artefact"] }
  test:  { mode: shell, commands: ["cat artefact", "echo tested"], depends_on: [build] }
)";

struct Trio {
  TempDir dir;
  SimNet net;
  fs::path repos = dir.path() / "repos";
  SimNode& a = net.add("alice", 'a', dir.path() / "a", repos);
  SimNode& b = net.add("bob", 'b', dir.path() / "b", repos);
  SimNode& c = net.add("carol", 'c', dir.path() / "c", repos);
  WorkRepo work{dir.path() / "work", "my-app"};

  Trio() {
    a.runs_jobs = false;
    b.runners = {RunnerInfo{"shell", {"shell"}, {}, 2, 2}};
    c.runners = {RunnerInfo{"shell", {"shell"}, {"linux"}, 2, 2}};
  }
  void start() {
    for (SimNode* n : {&a, &b, &c}) n->start();
    net.advance(1000);  // first heartbeats
  }
  // Commits the pipeline (and files), pushes to the shared mirrors, and has `on` publish the
  // refs event its replication would. Returns the sha.
  std::string push(SimNode& on, const std::string& pipeline,
                   std::map<std::string, std::string> files = {},
                   const std::string& branch = "main") {
    files[".mesh/mesh-ci.yml"] = pipeline;
    std::string sha = work.commit(files, "commit");
    work.push_to(repos, branch);
    net.pushed(on, "my-app", "refs/heads/" + branch, kZero, sha);
    net.pump();
    return sha;
  }
  std::string run_id_of(const std::string& sha, const std::string& branch = "main") {
    return run_id("my-app", "refs/heads/" + branch, sha, trigger_key_push());
  }
  bool everywhere(const std::string& id, RunPhase phase) {
    for (SimNode* n : {&a, &b, &c}) {
      const RunState* r = n->run(id);
      if (!r || r->phase != phase) return false;
    }
    return true;
  }
};

inline std::string logs_of(SimNode& n, const std::string& id) {
  CliOut out = n.cli({"logs", "my-app", id.substr(0, 8)});
  EXPECT_EQ(out.code, 0) << out.output;
  return out.output;
}

}  // namespace mesh::ci::sim
