// test-blocker: a plugin that blocks its own executor on command, for the isolation and reload
// tests (tests/integration/isolation_test.cpp, reload_test.cpp). Each block lasts until the
// file <data_dir>/release exists, or 20 s, and is logged to <data_dir>/blocker.log as
// "<what> blocked" and "<what> released" lines (fsync'd), so a test can tell what is blocked.
//   subscription "block" on test.block: every event blocks its handler (the verdict is true)
//   mesh blocker-arm-timer   the next run of its 20 ms timer blocks
//   GET /blocker/block       the handler blocks, then answers "released\n"
//   GET /blocker             "blocker\n" at once
//   mesh blocker-hang-stop   stop() blocks
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "mesh/plugin.hpp"

namespace {

constexpr auto kMaxBlock = std::chrono::seconds(20);

class Blocker : public mesh::sdk::Plugin {
 public:
  void start() override {
    data_dir_ = host().data_dir();
    try {  // a host without an event bus (the Manager's unit tests) has no events to block on
      subscribe("block", "test.block", [this](const mesh::sdk::Event&) {
        block("event");
        return true;
      });
    } catch (const mesh::sdk::Error& e) {
      if (e.code() != MESH_E_UNSUPPORTED) throw;
    }
    timer(std::chrono::milliseconds(20), true, [this] {
      if (arm_timer_.exchange(false)) block("timer");
    });
    route("GET", "/blocker", [this](const mesh::sdk::HttpRequest& r) {
      if (r.path() == "/blocker/block") {
        block("http");
        r.respond(mesh::sdk::HttpResponse::text(200, "released\n"));
        return;
      }
      r.respond(mesh::sdk::HttpResponse::text(200, "blocker\n"));
    });
    verb("blocker-arm-timer", "the next timer run blocks (test plugin)",
         [this](const mesh::sdk::CliRequest& c) {
           arm_timer_ = true;
           c.reply(0, "armed\n");
         });
    verb("blocker-hang-stop", "stop() blocks (test plugin)",
         [this](const mesh::sdk::CliRequest& c) {
           hang_stop_ = true;
           c.reply(0, "stop will hang\n");
         });
  }

  void stop() override {
    if (hang_stop_) block("stop");
  }

 private:
  void note(const std::string& line) {
    std::lock_guard<std::mutex> lock(log_mu_);
    int fd = ::open((data_dir_ + "/blocker.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                    0600);
    if (fd < 0) return;
    std::string text = line + "\n";
    if (::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size())) ::fsync(fd);
    ::close(fd);
  }

  void block(const std::string& what) {
    note(what + " blocked");
    auto until = std::chrono::steady_clock::now() + kMaxBlock;
    while (::access((data_dir_ + "/release").c_str(), F_OK) != 0 &&
           std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    note(what + " released");
  }

  std::string data_dir_;
  std::mutex log_mu_;
  std::atomic<bool> arm_timer_{false};
  std::atomic<bool> hang_stop_{false};
};

}  // namespace

MESH_PLUGIN(Blocker, "test-blocker", "1.0.0");
