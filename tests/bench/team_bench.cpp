// A team at the top of the size mesh is for (issue #16): N real daemons with replication on
// 127.0.0.1, paired as a star through one inviter with the real `mesh invite` / `mesh join`.
// Every setting is the product's default except the test harness's ports and paths. Printed
// per size: the joins, the time until every node lists every other as up, idle CPU per
// daemon and median RSS, and push -> every node's mirror (the real git client pushing to the
// inviter; each mirror's ref is read straight from disk every ~2 ms). The baseline is the same
// run at the small size: the large figures are printed as ratios to it.
//
// MESH_BENCH_TEAM="10 50" (the default) picks the sizes; the CTest entry runs "5 10" with a 10 s
// idle window to stay cheap in CI, tools/long-checks/team50.sh runs the default. Nothing here
// asserts a time: the goals (push to all 50 within 2 s, idle CPU per daemon at most 0.5 %
// of a core) are printed next to the figures.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "harness.hpp"
#include "trio.hpp"

using namespace mesh::test;
using namespace mesh::bench;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr int kPushes = 5;

// MESH_BENCH_TEAM_IDLE_S (default 20): how long idle CPU is measured.
std::chrono::seconds idle_window() {
  const char* v = std::getenv("MESH_BENCH_TEAM_IDLE_S");
  int s = v && *v ? std::atoi(v) : 20;
  return std::chrono::seconds(s >= 1 && s <= 600 ? s : 20);
}

struct Figures {
  int n = 0;
  double join_s = 0, up_s = 0;
  double idle_cpu_pct = 0;  // per daemon, of one core
  double rss_mib = 0;       // median
  double push_all_ms = 0;   // median over kPushes
  double origin_serves = 0;  // upload-pack requests the inviter served per push
  std::string push_said;    // the last push's "replicated to" line
};

std::string json_text(const json::value& v, const char* key) {
  if (!v.is_object() || !v.as_object().contains(key) || !v.at(key).is_string()) return "";
  return std::string(v.at(key).as_string());
}

std::string remote_line(const std::string& err) {
  auto p = err.find("replicated to");
  if (p == std::string::npos) return "";
  std::string line = err.substr(p, err.find('\n', p) - p);
  // git pads "remote:" lines with spaces to clear its progress output.
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line;
}

bool measure(int n, Figures& fig) {
  fig.n = n;
  TempDir dir("bench-team" + std::to_string(n));
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    names.push_back("n" + std::to_string(i));
    nodes.push_back(std::make_unique<Node>(dir.path(), names.back()));
    nodes.back()->write_config({"replication"});
    // The product's beacon interval (30 s), not the test harness's 2 s: with 50 nodes on one
    // loopback every node would verify 50 beacons a second, which no LAN of 50 sends.
    const fs::path toml = nodes.back()->root() / "mesh.toml";
    std::ifstream in(toml);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    in.close();
    if (auto at = text.find("interval_ms = 2000"); at != std::string::npos) {
      text.replace(at, 18, "interval_ms = 30000");
    }
    std::ofstream(toml, std::ios::trunc) << text;
  }
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "n=%d: %s\n", n, why.c_str());
    for (auto& node : nodes) node->stop();
    return false;
  };
  for (auto& node : nodes) {
    if (auto p = node->start(); p.exit != 0) return fail(node->name() + ": start: " + p.err);
  }
  const auto t_join = Clock::now();
  for (int i = 1; i < n; ++i) {
    std::string token = json_text(nodes[0]->mesh_json({"invite"}), "token");
    auto joined = nodes[static_cast<std::size_t>(i)]->mesh({"--json", "join", token});
    if (token.empty() || joined.exit != 0) return fail("join: " + joined.err);
  }
  fig.join_s = ms_between(t_join, Clock::now()) / 1000.0;
  std::vector<bool> complete(static_cast<std::size_t>(n), false);
  bool all_up = eventually(
      [&] {
        bool all = true;
        for (std::size_t i = 0; i < nodes.size(); ++i) {
          if (complete[i]) continue;
          std::set<std::string> want(names.begin(), names.end());
          want.erase(names[i]);
          complete[i] = up_peers(*nodes[i]) == want;
          all = all && complete[i];
        }
        return all;
      },
      std::chrono::milliseconds(180s));
  if (!all_up) return fail("not every node saw every other up within 180 s");
  fig.up_s = ms_between(t_join, Clock::now()) / 1000.0 - fig.join_s;

  // Idle: nothing happens but heartbeats, anti-entropy and discovery.
  std::this_thread::sleep_for(5s);  // the joins' own gossip and first syncs, not measured
  std::vector<double> before;
  for (auto& node : nodes) before.push_back(cpu_ms(node->pid()));
  const auto t_idle = Clock::now();
  std::this_thread::sleep_for(idle_window());
  const double window_ms = ms_between(t_idle, Clock::now());
  double used = 0;
  std::vector<double> rss;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    used += cpu_ms(nodes[i]->pid()) - before[i];
    rss.push_back(static_cast<double>(status_kib(nodes[i]->pid(), "VmRSS:")) / 1024.0);
  }
  fig.idle_cpu_pct = used / window_ms / n * 100.0;
  fig.rss_mib = median(rss);

  // Pushes to the inviter, each timed until every mirror has it.
  fs::path home = dir.path() / "home", work = dir.path() / "work";
  fs::create_directories(home);
  const std::string url = "https://localhost:" + std::to_string(nodes[0]->port()) + "/app.git";
  auto g = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"-C", work.string(), "-c", "user.name=b", "-c",
                               "user.email=b@example.com", "-c", "http.sslVerify=false"});
    return git(home, args);
  };
  if (git(home, {"init", "-q", "-b", "main", work.string()}).exit != 0) return fail("git init");
  std::vector<double> samples;
  std::size_t served_before = 0;
  for (int k = 0; k <= kPushes; ++k) {  // push 0 creates the repo everywhere: not a sample
    if (k == 1) served_before = log_lines_with(*nodes[0], "git-upload-pack").size();
    std::ofstream(work / ("f" + std::to_string(k))) << k << "\n";
    if (g({"add", "."}).exit != 0 || g({"commit", "-q", "-m", "c" + std::to_string(k)}).exit != 0)
      return fail("git commit");
    const std::string want = chomp(g({"rev-parse", "HEAD"}).out);
    const auto t0 = Clock::now();
    auto p = g({"push", "-q", url, "main"});
    if (p.exit != 0) return fail("push: " + p.err);
    fig.push_said = remote_line(p.err);
    std::vector<bool> have(nodes.size(), false);
    std::size_t count = 0;
    const auto deadline = Clock::now() + 120s;
    while (count < nodes.size() && Clock::now() < deadline) {
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (!have[i] && mirror_main(*nodes[i], "app") == want) {
          have[i] = true;
          ++count;
        }
      }
      if (count < nodes.size()) std::this_thread::sleep_for(2ms);
    }
    if (count < nodes.size()) {
      return fail("push " + std::to_string(k) + " reached " + std::to_string(count) + "/" +
                  std::to_string(n) + " nodes in 120 s");
    }
    if (k > 0) samples.push_back(ms_between(t0, Clock::now()));
  }
  fig.push_all_ms = median(samples);
  fig.origin_serves =
      static_cast<double>(log_lines_with(*nodes[0], "git-upload-pack").size() - served_before) /
      kPushes;
  for (auto& node : nodes) node->stop();
  return true;
}

}  // namespace

int main() {
  std::vector<int> sizes;
  const char* env = std::getenv("MESH_BENCH_TEAM");
  std::istringstream in(env && *env ? env : "10 50");
  for (int s; in >> s;) {
    if (s >= 2 && s <= 200) sizes.push_back(s);
  }
  if (sizes.empty()) {
    std::fprintf(stderr, "MESH_BENCH_TEAM: sizes between 2 and 200\n");
    return 1;
  }
  std::printf("team bench (real daemons, star pairing, replication on, %d pushes each)\n", kPushes);
  std::vector<Figures> all;
  for (int n : sizes) {
    Figures f;
    if (!measure(n, f)) return 1;
    std::printf(
        "  n=%d: joins %.1f s, all up %.1f s later; idle %.2f %% of a core per daemon, RSS "
        "median %.1f MiB; push -> all %d nodes p50 %.0f ms (%s); the pushed-to node served "
        "%.1f upload-pack requests per push\n",
        n, f.join_s, f.up_s, f.idle_cpu_pct, f.rss_mib, n, f.push_all_ms, f.push_said.c_str(),
        f.origin_serves);
    std::fflush(stdout);
    all.push_back(f);
  }
  const Figures& base = all.front();
  for (std::size_t i = 1; i < all.size(); ++i) {
    const Figures& f = all[i];
    std::printf(
        "  n=%d vs n=%d: push -> all %.0f ms vs %.0f ms (ratio %.2f; goal at 50: <= 2000 ms); "
        "idle CPU per daemon %.2f %% vs %.2f %% (ratio %.2f; goal <= 0.5 %%)\n",
        f.n, base.n, f.push_all_ms, base.push_all_ms, f.push_all_ms / base.push_all_ms,
        f.idle_cpu_pct, base.idle_cpu_pct, f.idle_cpu_pct / base.idle_cpu_pct);
  }
  return 0;
}
