// CI latency on three real daemons (issue #13), next to a baseline measured in the same run.
// Figures only: nothing here asserts a time (the goal, push -> job started on a remote runner
// p50 < 1 s, is printed, not checked).
//
// alice runs no jobs; carol is the only runner with the label the pipeline asks for (bob has
// none), so every job runs on another node than the one pushed to. Each round commits a
// pipeline whose one job is `date +%s%N > <file>` (a new file each round) and pushes it to
// alice with the real git client over http:
//  - push -> job started: from spawning `git push` until the job's file exists (polled every
//    ~1 ms; the job writes it as its first and only command);
//  - push -> job passed: until `mesh ci status` on alice says passed (polled every 10 ms, so
//    the figure carries up to that much polling);
// against the same command run locally with `sh -c` (spawn to file, and spawn to exit).
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "harness.hpp"
#include "trio.hpp"

using namespace mesh::test;
using namespace mesh::bench;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

extern char** environ;

namespace {

constexpr int kRounds = 12;

std::string config(bool runs, const std::string& labels) {
  return std::string("[runner]\nenabled = ") + (runs ? "true" : "false") + "\nlabels = [" + labels +
         "]\n";
}

std::string state_on(const Node& n, const std::string& short_id) {
  auto p = n.mesh({"--json", "ci", "status", "app", "--limit", "5"});
  boost::system::error_code ec;
  auto v = boost::json::parse(p.out, ec);
  if (ec || !v.is_array()) return "";
  for (const auto& r : v.as_array()) {
    if (std::string(r.at("id").as_string()).rfind(short_id, 0) == 0)
      return std::string(r.at("state").as_string());
  }
  return "";
}

// sh -c CMD: spawn -> file exists, and spawn -> exit.
bool sh_round(const fs::path& file, double* started_ms, double* done_ms) {
  std::string cmd = "date +%s%N > " + file.string();
  std::string sh = "/bin/sh", c = "-c";
  char* argv[] = {sh.data(), c.data(), cmd.data(), nullptr};
  auto t0 = Clock::now();
  pid_t pid = -1;
  if (::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ) != 0) return false;
  bool seen = false;
  int status = 0;
  for (;;) {
    if (!seen && fs::exists(file)) {
      *started_ms = ms_between(t0, Clock::now());
      seen = true;
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(50us);
  }
  *done_ms = ms_between(t0, Clock::now());
  if (!seen) *started_ms = *done_ms;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main() {
  TempDir dir("bench-ci");
  Trio t("bench-ci-nodes", {"replication", "ci", "runner-shell"});
  t.a.write_config({"replication", "ci", "runner-shell"}, config(false, ""));
  t.b.write_config({"replication", "ci", "runner-shell"}, config(true, ""));
  t.c.write_config({"replication", "ci", "runner-shell"}, config(true, "\"bench\""));
  if (!start_and_pair(t)) return 1;
  // Wait until alice sees carol's runner in the heartbeats.
  bool seen = eventually(
      [&] {
        auto v = t.a.mesh_json({"ci", "runners"});
        for (const auto& r : v.as_array()) {
          if (r.at("node").as_string() == "carol" && r.at("state").as_string() == "up") return true;
        }
        return false;
      },
      30s);
  if (!seen) {
    std::fprintf(stderr, "alice never saw carol's runner\n");
    return 1;
  }
  auto work = t.make_repo("app", 1);
  fs::create_directories(work / ".mesh");
  static const std::regex re("CI run ([0-9a-f]{12}) ");
  std::vector<double> started, passed, push_ms, sh_started, sh_done;
  for (int i = 0; i < kRounds; ++i) {
    fs::path marker = dir.path() / ("started-" + std::to_string(i));
    std::ofstream(work / ".mesh" / "mesh-ci.yml", std::ios::trunc)
        << "runner: { labels: [bench] }\njobs:\n  job: { commands: [\"date +%s%N > "
        << marker.string() << "\"] }\n";
    if (t.git({"commit", "-qam", "round " + std::to_string(i)}, work).exit != 0 &&
        (t.git({"add", "-A"}, work), t.git({"commit", "-qm", "round"}, work).exit != 0)) {
      std::fprintf(stderr, "commit failed\n");
      return 1;
    }
    Proc push;
    auto t0 = Clock::now();
    std::thread pusher([&] {
      push = t.git({"push", Trio::http(t.a, "app"), "HEAD:refs/heads/main"}, work);
    });
    bool ok = false;
    auto deadline = t0 + 30s;
    while (Clock::now() < deadline) {
      if (fs::exists(marker)) {
        ok = true;
        break;
      }
      std::this_thread::sleep_for(1ms);
    }
    double start_ms = ms_between(t0, Clock::now());
    pusher.join();
    double pushed_ms = ms_between(t0, Clock::now());
    std::smatch m;
    std::string out = push.err + push.out;
    if (!ok || push.exit != 0 || !std::regex_search(out, m, re)) {
      std::fprintf(stderr, "round %d: the job did not start on carol (push said: %s)\n", i,
                   out.c_str());
      return 1;
    }
    std::string id = m[1].str();
    bool done = false;
    while (Clock::now() < t0 + 60s) {
      if (state_on(t.a, id) == "passed") {
        done = true;
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    if (!done) {
      std::fprintf(stderr, "round %d: run %s did not pass\n", i, id.c_str());
      return 1;
    }
    started.push_back(start_ms);
    passed.push_back(ms_between(t0, Clock::now()));
    push_ms.push_back(pushed_ms);
    double s1 = 0, s2 = 0;
    if (!sh_round(dir.path() / ("sh-" + std::to_string(i)), &s1, &s2)) {
      std::fprintf(stderr, "sh -c failed\n");
      return 1;
    }
    sh_started.push_back(s1);
    sh_done.push_back(s2);
  }
  double st = median(started), pa = median(passed), b1 = median(sh_started), b2 = median(sh_done);
  std::printf(
      "CI on 3 nodes, %d rounds, a one-line job on a remote runner (carol), pushed to alice\n",
      kRounds);
  std::printf(
      "  push -> job started   p50 %8.1f ms  p90 %8.1f ms | sh -c locally p50 %6.2f ms | ratio "
      "%.0f  (goal p50 < 1000 ms: %s)\n",
      st, percentile(started, 90), b1, st / b1, st < 1000 ? "met" : "missed");
  std::printf(
      "  push -> job passed    p50 %8.1f ms  p90 %8.1f ms | sh -c locally p50 %6.2f ms | ratio "
      "%.0f\n",
      pa, percentile(passed, 90), b2, pa / b2);
  std::printf(
      "  git push itself       p50 %8.1f ms (replication's wait for acknowledgements and the CI "
      "note)\n",
      median(push_ms));
  for (Node* n : t.all()) n->stop();
  return 0;
}
