// Render time of the repo page (issue #12): GET /repos/<repo> from a lone node's browse plugin
// for a 5,000-commit repo (files, README, branches, the last 50 commits, the activity
// sparkline), against `git log -50` of the same branch on the node's own mirror, in the same run
// and alternating, as a ratio. Figures only: the goal (a p50 under 50 ms) is printed, not
// checked.
//
// The history is made with `git fast-import` in a second (5,000 commits 10 minutes apart, so the
// 60-day activity window walks all of them; each rewrites one of 400 small text files in 20
// directories, plus a README), then pushed to the node over loopback http, the way any repo gets
// there. Requests go over one plain HTTP/1.1 connection each, as a browser's first load; the
// first request is reported alone (the activity counts are computed and cached then), the
// following 30 as the warm figure. `git log -50` is a process spawn each time, as a user runs it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "harness.hpp"

using namespace mesh::test;
using namespace mesh::bench;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr int kCommits = 5000;
constexpr int kFiles = 400;
constexpr int kSamples = 30;

bool write_history(std::FILE* out, long now) {
  Rng rng{7};
  std::string readme = "# Bench repo\n\nA generated history for the repo page bench.\n\n";
  for (int i = 0; i < 40; ++i)
    readme += "- item " + std::to_string(i) + " with a [link](d00/f000.txt) and `code`\n";
  bool ok = true;
  for (int i = 0; i < kCommits && ok; ++i) {
    int file = static_cast<int>(rng.next() % kFiles);
    char path[32];
    std::snprintf(path, sizeof path, "d%02d/f%03d.txt", file / 20, file);
    std::string data = "line " + std::to_string(i) + " of " + path + "\n";
    for (int k = 0; k < 20; ++k) data += "filler " + std::to_string(rng.next()) + "\n";
    std::string msg = "commit " + std::to_string(i) + ": rewrite " + path + "\n";
    long ts = now - static_cast<long>(kCommits - i) * 600L;
    std::fprintf(out,
                 "commit refs/heads/main\n"
                 "author Bench <bench@example.com> %ld +0000\n"
                 "committer Bench <bench@example.com> %ld +0000\n"
                 "data %zu\n%s"
                 "M 100644 inline %s\ndata %zu\n%s\n",
                 ts, ts, msg.size(), msg.c_str(), path, data.size(), data.c_str());
    if (i == 0)
      std::fprintf(out, "M 100644 inline README.md\ndata %zu\n%s\n", readme.size(), readme.c_str());
    ok = !std::ferror(out);
  }
  return ok;
}

// One GET over a fresh connection; the status and body, or status 0 on a transport failure.
struct Got {
  int status = 0;
  std::string body;
};
Got http_get(int port, const std::string& path) {
  Got got;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return got;
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return got;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nAccept: text/html\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return got;
  }
  std::string resp;
  char buf[65536];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  if (resp.rfind("HTTP/1.1 ", 0) != 0 || resp.size() < 12) return got;
  got.status = std::atoi(resp.c_str() + 9);
  auto end = resp.find("\r\n\r\n");
  got.body = end == std::string::npos ? "" : resp.substr(end + 4);
  return got;
}

void print(const char* what, const std::vector<double>& ms) {
  std::printf("  %-34s p50 %7.2f ms   p90 %7.2f ms   (%zu runs)\n", what, median(ms),
              percentile(ms, 90), ms.size());
}

}  // namespace

int main() {
  TempDir dir("bench-repo-page");
  fs::path home = dir.path() / "home";
  fs::create_directories(home);
  const long now = static_cast<long>(std::time(nullptr));

  fs::path src = dir.path() / "src.git";
  auto t0 = Clock::now();
  if (git(home, {"init", "-q", "--bare", src.string()}).exit != 0 ||
      !fast_import(src, home, [now](std::FILE* out) { return write_history(out, now); })) {
    return 1;
  }
  std::printf("  generated %d commits with git fast-import in %.1f s\n", kCommits,
              ms_between(t0, Clock::now()) / 1000.0);

  Node node(dir.path(), "solo");
  node.write_config({"replication", "browse"});
  if (auto p = node.start(); p.exit != 0) {
    std::fprintf(stderr, "mesh start failed: %s\n", p.err.c_str());
    return 1;
  }
  auto push =
      git(home, {"--git-dir", src.string(), "push", "-q", node.http_url("/big.git"), "main"});
  fs::path mirror = node.root() / "repos" / "big.git";
  const std::string tip = chomp(git(home, {"--git-dir", src.string(), "rev-parse", "main"}).out);
  const std::string served =
      chomp(git(home, {"--git-dir", mirror.string(), "rev-parse", "refs/heads/main"}).out);
  if (push.exit != 0 || served != tip) {
    std::fprintf(stderr, "push failed (mirror at '%s', want %s): %s\n", served.c_str(), tip.c_str(),
                 push.err.c_str());
    return 1;
  }
  const std::string newest = "commit " + std::to_string(kCommits - 1) + ": rewrite";
  const std::string oldest_shown = "commit " + std::to_string(kCommits - 50) + ": rewrite";

  // The page must be what is measured: every sample is checked.
  auto page = [&](double* ms) {
    auto c0 = Clock::now();
    Got g = http_get(node.port(), "/repos/big");
    *ms = ms_between(c0, Clock::now());
    if (g.status != 200 || g.body.find(newest) == std::string::npos ||
        g.body.find(oldest_shown) == std::string::npos ||
        g.body.find("commits in 60 days") == std::string::npos) {
      std::fprintf(stderr, "GET /repos/big answered %d without the expected content:\n%.2000s\n",
                   g.status, g.body.c_str());
      return false;
    }
    return true;
  };
  double first_ms = 0;
  if (!page(&first_ms)) return 1;
  std::vector<double> page_ms, log_ms;
  for (int i = 0; i < kSamples; ++i) {
    double ms = 0;
    if (!page(&ms)) return 1;
    page_ms.push_back(ms);
    auto c0 = Clock::now();
    auto log = git(home, {"--git-dir", mirror.string(), "log", "-50", "main"});
    log_ms.push_back(ms_between(c0, Clock::now()));
    if (log.exit != 0 || log.out.find(newest) == std::string::npos) {
      std::fprintf(stderr, "git log -50 failed: %s\n", log.err.c_str());
      return 1;
    }
  }
  std::printf("repo page of a %d-commit repo, against git log -50 of the same branch:\n", kCommits);
  std::printf("  %-34s %7.2f ms (the activity counts computed, then cached)\n",
              "GET /repos/big, first", first_ms);
  print("GET /repos/big", page_ms);
  print("git log -50 main (process)", log_ms);
  std::printf("  ratio page/git-log p50 %.2fx, p90 %.2fx; goal: page p50 < 50 ms (%s)\n",
              median(page_ms) / median(log_ms), percentile(page_ms, 90) / percentile(log_ms, 90),
              median(page_ms) < 50 ? "met" : "not met");
  node.stop();
  return 0;
}
