// A userspace TCP proxy on 127.0.0.1 for cutting and healing links between real daemons in a
// test: every byte is forwarded to the target port until cut(), which closes every connection
// through it and refuses new ones until heal(), or blackhole(), which keeps every connection
// open and forwards nothing (a route that drops packets silently: timeouts, not refusals), or
// hold_new(), which leaves the open connections alone and only new ones hang.
// (No netem or iptables here: PLATFORM.md.)
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace mesh::test {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_(target_port) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_, 64) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("proxy: cannot listen");
    }
    port_ = ntohs(a.sin_port);
    if (::pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("proxy: pipe");
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~TcpProxy() {
    stopping_ = true;
    cut();
    [[maybe_unused]] auto n = ::write(wake_[1], "x", 1);
    accept_thread_.join();
    std::list<Conn> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.thread.join();
    ::close(listen_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  bool is_cut() const { return cut_; }
  // Every connection through the proxy ends now, and new ones are closed at once.
  void cut() {
    cut_ = true;
    std::lock_guard lock(mu_);
    for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    for (int fd : held_) ::close(fd);
    held_.clear();
  }
  void heal() {
    cut_ = false;
    hole_ = false;
    hold_new_ = false;
    std::lock_guard lock(mu_);
    for (int fd : held_) ::close(fd);
    held_.clear();
  }
  // From now on nothing passes in either direction, and new connections are accepted and then
  // ignored, until heal() (which closes those) or cut().
  void blackhole() { hole_ = true; }
  // Connections open now keep flowing; new ones are accepted and then ignored (a server that
  // hangs, or a route that broke while a long-lived connection has not noticed), until heal().
  void hold_new() { hold_new_ = true; }
  // Forwards at most this many bytes per second in each direction (0: no limit), for tests
  // that need a transfer to take a while.
  void throttle(std::size_t bytes_per_second) { rate_ = bytes_per_second; }

 private:
  void accept_loop() {
    for (;;) {
      pollfd p[2] = {{listen_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;
      if (stopping_) return;
      if (!(p[0].revents & POLLIN)) continue;
      int client = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      if (cut_) {
        ::close(client);
        continue;
      }
      if (hole_ || hold_new_) {
        std::lock_guard lock(mu_);
        held_.insert(client);
        continue;
      }
      int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<std::uint16_t>(target_));
      if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(server);
        ::close(client);
        continue;
      }
      std::lock_guard lock(mu_);
      // Join the connections that ended (each marked itself done as its last step).
      for (auto it = threads_.begin(); it != threads_.end();) {
        if (*it->done) {
          it->thread.join();
          it = threads_.erase(it);
        } else {
          ++it;
        }
      }
      open_.insert(client);
      open_.insert(server);
      auto done = std::make_shared<std::atomic<bool>>(false);
      threads_.push_back({std::thread([this, client, server, done] {
                            pump(client, server);
                            *done = true;
                          }),
                          done});
    }
  }

  void pump(int a, int b) {
    char buf[16384];
    pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    bool done = false;
    while (!done && !cut_) {
      if (hole_) {  // hold both ends, read nothing: the sender's buffers fill, nothing arrives
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      if (::poll(p, 2, 200) < 0) break;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n <= 0) {
          done = true;
          break;
        }
        for (ssize_t off = 0; off < n;) {
          // MSG_NOSIGNAL: a peer that closed must not SIGPIPE the test process.
          ssize_t w =
              ::send(p[1 - i].fd, buf + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
          if (w <= 0) {
            done = true;
            break;
          }
          off += w;
        }
        if (std::size_t rate = rate_; rate > 0) {
          std::this_thread::sleep_for(std::chrono::microseconds(
              static_cast<std::int64_t>(n) * 1'000'000 / static_cast<std::int64_t>(rate)));
        }
      }
    }
    std::lock_guard lock(mu_);
    open_.erase(a);
    open_.erase(b);
    ::close(a);
    ::close(b);
  }

  int target_;
  int listen_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> cut_{false};
  std::atomic<bool> hole_{false};
  std::atomic<bool> hold_new_{false};
  std::atomic<std::size_t> rate_{0};
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::set<int> open_;
  std::set<int> held_;  // accepted while blackholed, never forwarded
  struct Conn {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Conn> threads_;
};

}  // namespace mesh::test
