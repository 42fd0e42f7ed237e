// `mesh update` against a plain restart, on the same installed node in the same run:
//   - the time from running the command to the daemon answering on the new version (update:
//     metadata, signature, download from a loopback release server, verification, extraction,
//     then the watchdog's stop, switch, start and health check; restart: `mesh stop && mesh
//     start --detach`);
//   - the window during which git requests to the node fail (a prober runs `git ls-remote`
//     against it in a loop the whole time).
// Printed as ratios to the plain restart. Asserts nothing about time.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "test_http_server.hpp"
#include "update_nodes.hpp"

namespace mesh::test {
namespace {
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(t - t0).count();
}

// git ls-remote in a loop; records when requests failed.
class GitProber {
 public:
  GitProber(std::string url, fs::path home) : url_(std::move(url)), home_(std::move(home)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~GitProber() {
    stop_ = true;
    thread_.join();
  }
  // The longest run of failed requests since `from`: from the last success before the first
  // failure to the first success after the last one (0 if none failed).
  double window_ms(Clock::time_point from) {
    std::lock_guard lock(mu_);
    double worst = 0;
    std::optional<Clock::time_point> ok_before;
    bool failing = false;
    for (const auto& s : samples_) {
      if (s.ok) {
        if (failing && ok_before) worst = std::max(worst, ms_since(*ok_before, s.end));
        failing = false;
        ok_before = s.end;
      } else if (s.start >= from) {
        failing = true;
      }
    }
    return worst;
  }
  // Waits until a request that started after `t` succeeded, so the window is closed.
  bool success_after(Clock::time_point t) {
    for (auto end = Clock::now() + std::chrono::seconds(30); Clock::now() < end;) {
      {
        std::lock_guard lock(mu_);
        for (auto it = samples_.rbegin(); it != samples_.rend() && it->start > t; ++it)
          if (it->ok) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::size_t failures(Clock::time_point from) {
    std::lock_guard lock(mu_);
    return std::count_if(samples_.begin(), samples_.end(),
                         [&](const Sample& s) { return s.start >= from && !s.ok; });
  }

 private:
  struct Sample {
    Clock::time_point start, end;
    bool ok;
  };
  void loop() {
    while (!stop_) {
      auto t0 = Clock::now();
      auto p = run({"git", "ls-remote", url_},
                   {"HOME=" + home_.string(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"},
                   std::chrono::seconds(10));
      std::lock_guard lock(mu_);
      samples_.push_back({t0, Clock::now(), p.exit == 0});
    }
  }
  std::string url_;
  fs::path home_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Sample> samples_;
  std::thread thread_;
};

struct Figures {
  std::vector<double> answer_ms, window_ms;
  std::size_t failed_requests = 0;
  static double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
};

TEST(UpdateBench, UpdateAgainstAPlainRestart) {
  const auto* f = UpdateFixture::get();
  ASSERT_TRUE(f) << "no update fixture in " << UPDATE_FIXTURE_DIR;
  TempDir dir("update-bench");
  updater::test::TestHttpServer server(updater::test::static_files(f->release()));
  InstalledNode a(dir.path(), "alice");
  a.write_config({"replication", "updater"}, updater_toml(server.url(""), f->key_line()));
  ASSERT_EQ(a.start().exit, 0);
  const std::string listen = a.listen();

  fs::path home = dir.path() / "home", work = dir.path() / "work";
  fs::create_directories(home);
  auto git = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{
        "git", "-C", work.string(), "-c", "user.name=b", "-c", "user.email=b@example.com"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {"HOME=" + home.string(), "GIT_CONFIG_NOSYSTEM=1"});
  };
  ASSERT_EQ(run({"git", "init", "-q", "-b", "main", work.string()}).exit, 0);
  spit(work / "f", "x");
  ASSERT_EQ(git({"add", "f"}).exit, 0);
  ASSERT_EQ(git({"commit", "-qm", "x"}).exit, 0);
  ASSERT_EQ(git({"push", "-q", a.http_url("/app.git"), "main"}).exit, 0);
  GitProber prober(a.http_url("/app.git"), home);

  auto wait_version = [&](const std::string& v, Clock::time_point t0) {
    while (Clock::now() - t0 < std::chrono::seconds(120)) {
      if (a.node("version") == v) return ms_since(t0, Clock::now());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1.0;
  };
  constexpr int kRounds = 3;
  Figures update, rollback, restart;
  for (int i = 0; i < kRounds; ++i) {
    // mesh update: the figure ends when the new version answers.
    auto t0 = Clock::now();
    std::thread cmd([&] {
      auto p = a.mesh({"update"});
      EXPECT_EQ(p.exit, 0) << p.err;
    });
    double answer = wait_version(f->bumped, t0);
    cmd.join();
    ASSERT_GT(answer, 0);
    ASSERT_TRUE(prober.success_after(Clock::now()));
    update.answer_ms.push_back(answer);
    update.window_ms.push_back(prober.window_ms(t0));
    update.failed_requests += prober.failures(t0);

    // Back by hand: the restart part of an update alone (no download).
    t0 = Clock::now();
    std::thread back([&] {
      auto p = a.mesh({"update", "--rollback"});
      EXPECT_EQ(p.exit, 0) << p.err;
    });
    answer = wait_version(f->current, t0);
    back.join();
    ASSERT_GT(answer, 0);
    ASSERT_TRUE(prober.success_after(Clock::now()));
    rollback.answer_ms.push_back(answer);
    rollback.window_ms.push_back(prober.window_ms(t0));
    rollback.failed_requests += prober.failures(t0);

    // The baseline: mesh stop && mesh start --detach on the same address.
    t0 = Clock::now();
    ASSERT_EQ(a.stop().exit, 0);
    auto s = a.mesh({"start", "--detach", "--listen", listen});
    ASSERT_EQ(s.exit, 0) << s.err;
    restart.answer_ms.push_back(ms_since(t0, Clock::now()));
    ASSERT_TRUE(prober.success_after(Clock::now()));
    restart.window_ms.push_back(prober.window_ms(t0));
    restart.failed_requests += prober.failures(t0);
  }

  const double base_answer = Figures::median(restart.answer_ms);
  const double base_window = Figures::median(restart.window_ms);
  auto row = [&](const char* what, const Figures& x) {
    double answer = Figures::median(x.answer_ms), window = Figures::median(x.window_ms);
    std::printf("%-34s %9.0f ms  (%5.2fx)   git down %7.0f ms  (%5.2fx)   failed requests %zu\n",
                what, answer, base_answer > 0 ? answer / base_answer : 0, window,
                base_window > 0 ? window / base_window : 0, x.failed_requests);
  };
  std::printf(
      "\nmesh update vs a plain restart, median of %d rounds (%s -> %s, archive %.1f MiB)\n",
      kRounds, f->current.c_str(), f->bumped.c_str(),
      static_cast<double>(fs::file_size(f->bumped_archive())) / (1 << 20));
  std::printf("%-34s %12s %10s %20s\n", "", "to answering", "", "git failure window");
  row("mesh stop && mesh start (baseline)", restart);
  row("mesh update (download + restart)", update);
  row("mesh update --rollback (restart)", rollback);
}

}  // namespace
}  // namespace mesh::test
