// Push throughput of the replication plugin (issue #4): `git push` of a new branch of 200
// commits (~3.3 MB of pseudo-random file content) to a mesh node over https, against the same
// push to a `file://` bare repo in the same run. Figures only: nothing here asserts a time (the
// goal, a median at most 1.2x the baseline, is printed, not checked).
//
// Two set-ups, each with its own baseline pushes interleaved with the mesh pushes:
//  - a lone node with [plugins.replication] push_wait_ms = 0 (nothing to wait for): the cost of
//    serving the push itself;
//  - node A of a paired trio with the default push_wait_ms (3000): the push then also waits
//    until B and C fetched and applied the branch and acknowledged it.
// The source repo is generated with `git fast-import` (main with one commit, then 5 branches of
// 200 commits off it, each commit adding one 16 KiB file); every sample pushes a branch neither
// side has, so each push carries 200 new commits. Targets rotate from branch to branch.
//
// Secondary figures, to tell the server's cost from the transport's: on the lone node the same
// pushes over plain http (loopback) to another repo, and for every push its CPU time summed over
// all processes (client: git and its helpers, and for file:// receive-pack too, from
// RUSAGE_CHILDREN; mesh: the daemon's process tree, from /proc/<pid>/stat), which a
// busy shared machine disturbs less than wall time.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
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

namespace {

constexpr int kBranches = 5;  // = samples per side
constexpr int kCommitsPerBranch = 200;
constexpr std::size_t kFileBytes = 16 * 1024;

// The generated history as a `git fast-import` stream.
bool write_history(std::FILE* out) {
  long ts = 1'700'000'000L;
  auto header = [&](const std::string& ref, const std::string& msg) {
    ++ts;
    std::fprintf(out,
                 "commit %s\nauthor Bench <bench@example.com> %ld +0000\n"
                 "committer Bench <bench@example.com> %ld +0000\ndata %zu\n%s",
                 ref.c_str(), ts, ts, msg.size(), msg.c_str());
  };
  header("refs/heads/main", "base\n");  // empty tree; the branches start from it
  Rng rng{7};
  std::string data(kFileBytes, '\0');
  bool ok = true;
  for (int b = 0; b < kBranches && ok; ++b) {
    for (int c = 0; c < kCommitsPerBranch && ok; ++c) {
      header("refs/heads/b" + std::to_string(b),
             "b" + std::to_string(b) + " commit " + std::to_string(c) + "\n");
      if (c == 0) std::fprintf(out, "from refs/heads/main\n");
      for (std::size_t j = 0; j < kFileBytes; j += 8) {
        std::uint64_t r = rng.next();
        std::memcpy(&data[j], &r, 8);
      }
      std::fprintf(out, "M 100644 inline d%d/b%d-%03d.bin\ndata %zu\n", c % 10, b, c, kFileBytes);
      ok = std::fwrite(data.data(), 1, kFileBytes, out) == kFileBytes &&
           std::fputc('\n', out) != EOF;
    }
  }
  return ok;
}

struct Target {
  Target(const char* w, std::string u, int pid) : what(w), url(std::move(u)), server_pid(pid) {}
  const char* what;
  std::string url;
  int server_pid = -1;  // a mesh daemon, whose CPU counts too; -1 for file://
  std::vector<double> ms, cpu_ms, server_cpu_ms;
  std::map<std::string, int> lines;  // "replicated to k/N nodes" as the pushes printed it
};

// Pushes main to every target (untimed: it creates the repos), then each branch to every target,
// rotating the order. `ssl` turns off verification for the node's https URL; `others` must have
// main before the timed pushes start (the trio's B and C).
bool measure(const fs::path& home, const fs::path& src, const std::string& ssl,
             const std::vector<const Node*>& others, std::vector<Target>& targets) {
  auto push = [&](const Target& t, const std::string& ref) {
    auto p = git(home, {"-c", ssl, "--git-dir", src.string(), "push", t.url, ref + ":" + ref});
    if (p.exit != 0) {
      std::fprintf(stderr, "push of %s to %s failed: %s\n", ref.c_str(), t.url.c_str(),
                   p.err.c_str());
    }
    return p;
  };
  for (const Target& t : targets) {
    if (push(t, "refs/heads/main").exit != 0) return false;
  }
  const std::string main_oid =
      chomp(git(home, {"--git-dir", src.string(), "rev-parse", "main"}).out);
  for (const Node* n : others) {
    if (!eventually([&] { return refs_of(*n, "work")["refs/heads/main"] == main_oid; }, 60s)) {
      std::fprintf(stderr, "%s never got main\n", n->name().c_str());
      return false;
    }
  }
  for (int b = 0; b < kBranches; ++b) {
    const std::string ref = "refs/heads/b" + std::to_string(b);
    for (std::size_t k = 0; k < targets.size(); ++k) {
      Target& t = targets[(k + static_cast<std::size_t>(b)) % targets.size()];
      auto server_cpu = [&] { return t.server_pid > 0 ? tree_cpu_ms(t.server_pid) : 0.0; };
      double client0 = children_cpu_ms(), server0 = server_cpu();
      auto t0 = Clock::now();
      auto p = push(t, ref);
      double ms = ms_between(t0, Clock::now());
      if (p.exit != 0) return false;
      t.ms.push_back(ms);
      t.server_cpu_ms.push_back(server_cpu() - server0);
      t.cpu_ms.push_back(children_cpu_ms() - client0 + t.server_cpu_ms.back());
      if (t.server_pid > 0) {
        // "replicated to k/N nodes", without the blanks git pads remote lines with.
        auto at = p.err.find("replicated to ");
        ++t.lines[at == std::string::npos ? "(no replication line)"
                                          : p.err.substr(at, p.err.find(" nodes", at) + 6 - at)];
      }
      std::this_thread::sleep_for(50ms);
    }
  }
  return true;
}

// Prints every target against the last one (the file:// baseline).
void print(const char* setup, const std::vector<Target>& targets, bool goal) {
  std::printf("  %s:\n", setup);
  const Target& base = targets.back();
  for (const Target& t : targets) {
    std::printf("    %-10s wall median %4.0f ms (runs:", t.what, median(t.ms));
    for (double x : t.ms) std::printf(" %.0f", x);
    std::printf(")  CPU client+server median %4.0f ms", median(t.cpu_ms));
    if (t.server_pid > 0) std::printf(" (server part %.0f)", median(t.server_cpu_ms));
    if (&t != &base) {
      double r = median(t.ms) / median(base.ms);
      std::printf("  | ratio to file://: wall %.2f", r);
      if (goal && &t == &targets.front())
        std::printf(" (goal <= 1.2: %s)", r <= 1.2 ? "met" : "not met");
      std::printf(", CPU %.2f", median(t.cpu_ms) / median(base.cpu_ms));
    }
    std::printf("\n");
    for (const auto& [line, n] : t.lines)
      std::printf("      push said \"%s\": %d times\n", line.c_str(), n);
  }
}

}  // namespace

int main() {
  TempDir dir("bench-repl-push");
  fs::path home = dir.path() / "home";
  fs::create_directories(home);
  fs::path src = dir.path() / "src.git";
  auto g0 = Clock::now();
  if (git(home, {"init", "-q", "--bare", src.string()}).exit != 0 ||
      !fast_import(src, home, write_history)) {
    return 1;
  }
  std::printf("  generated the source repo (%d branches of %d commits) in %.1f s\n", kBranches,
              kCommitsPerBranch, ms_between(g0, Clock::now()) / 1000.0);
  std::fflush(stdout);

  auto bare = [&](const std::string& name) {
    fs::path p = dir.path() / name;
    return git(home, {"init", "-q", "--bare", p.string()}).exit == 0 ? "file://" + p.string() : "";
  };
  auto ssl_for = [](const Node& n) {
    return "http.https://localhost:" + std::to_string(n.port()) + ".sslVerify=false";
  };
  std::vector<Target> lone, trio;
  {
    Node node(dir.path(), "solo");
    node.write_config({"replication"}, "[plugins.replication]\npush_wait_ms = 0\n");
    if (auto p = node.start(); p.exit != 0) {
      std::fprintf(stderr, "mesh start failed: %s\n", p.err.c_str());
      return 1;
    }
    lone = {{"mesh https", node.https_url("/work.git"), node.pid()},
            {"mesh http", node.http_url("/work-http.git"), node.pid()},
            {"file://", bare("bare-lone.git"), -1}};
    bool ok = !lone.back().url.empty() && measure(home, src, ssl_for(node), {}, lone);
    node.stop();
    if (!ok) return 1;
  }
  {
    Trio t("bench-repl-push-trio");
    if (!start_and_pair(t)) return 1;
    trio = {{"mesh https", t.a.https_url("/work.git"), t.a.pid()},
            {"file://", bare("bare-trio.git"), -1}};
    bool ok = !trio.back().url.empty() && measure(home, src, ssl_for(t.a), {&t.b, &t.c}, trio);
    for (Node* n : t.all()) n->stop();
    if (!ok) return 1;
  }
  std::printf(
      "bench repl-push (git push of a new branch: %d commits, %.1f MB of file content; median "
      "of %d per target):\n",
      kCommitsPerBranch, kCommitsPerBranch * kFileBytes / 1e6, kBranches);
  print("lone node, [plugins.replication] push_wait_ms = 0", lone, true);
  print("node A of a paired trio, push_wait_ms default 3000 (the push waits for B's and C's acks)",
        trio, false);
  return 0;
}
