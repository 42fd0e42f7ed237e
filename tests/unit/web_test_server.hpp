// A real http::Server on 127.0.0.1:0 for the web layer's tests, driven by the real curl (and
// raw sockets where a client has to misbehave): one router, two I/O threads, and a member
// identity whose certificate curl can present.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http_test_util.hpp"
#include "mesh/http/server.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::test {

class WebServer {
 public:
  WebServer()
      : server_id_(identity::Identity::generate()), member_(identity::Identity::generate()) {
    dir_ = std::filesystem::temp_directory_path() /
           ("mesh-web-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    auto m = member_.tls_material("member");
    write_file(dir_ / "member.crt", m->cert_pem);
    write_file(dir_ / "member.key", m->key_pem);
    router = std::make_shared<http::Router>();
  }
  ~WebServer() {
    stop();
    std::filesystem::remove_all(dir_);
  }

  // Returns an empty string on success, else why it failed.
  std::string start(config::HttpConfig limits = {}) {
    auto tls = server_id_.tls_material("server");
    if (!tls) return tls.error().message;
    http::ServerOptions opts;
    opts.listen = config::HostPort{"127.0.0.1", 0};
    opts.limits = limits;
    opts.tls = *tls;
    opts.is_member = [key = member_.public_key()](const identity::PublicKey& k) {
      return k == key;
    };
    auto s = http::Server::start(io_, std::move(opts), router);
    if (!s) return s.error().message;
    server_ = std::move(*s);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
    return {};
  }
  // Closes every connection and lets the I/O threads run out of work.
  void stop() {
    if (server_) server_->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  std::uint16_t port() const { return server_->port(); }
  std::string http(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + std::string(path);
  }
  std::string https(std::string_view path) const {
    return "https://127.0.0.1:" + std::to_string(port()) + std::string(path);
  }
  std::vector<std::string> as_member() const {
    return {"-k", "--cert", (dir_ / "member.crt").string(), "--key",
            (dir_ / "member.key").string()};
  }
  const std::filesystem::path& dir() const { return dir_; }

  std::shared_ptr<http::Router> router;

 private:
  static inline int counter_ = 0;
  boost::asio::io_context io_;
  std::vector<std::thread> threads_;
  identity::Identity server_id_;
  identity::Identity member_;
  std::filesystem::path dir_;
  std::unique_ptr<http::Server> server_;
};

// A raw loopback client with a receive timeout (a server that never answers fails the test).
class RawSocket {
 public:
  explicit RawSocket(std::uint16_t port, int timeout_s = 20) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{timeout_s, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawSocket() { close(); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // A small receive buffer, so a client that stops reading fills up quickly.
  void shrink_receive_buffer() {
    int size = 4096;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until `needle` has arrived (true), or the peer closed / the timeout hit (false).
  bool read_until(std::string_view needle) {
    while (buffer_.find(needle) == std::string::npos) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  // read_until, then drops everything up to and including `needle` (for repeated waits).
  bool take_until(std::string_view needle) {
    if (!read_until(needle)) return false;
    buffer_.erase(0, buffer_.find(needle) + needle.size());
    return true;
  }
  // Reads until the peer closes (true) or the timeout hits (false).
  bool read_to_close() {
    for (;;) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }
  const std::string& received() const { return buffer_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

}  // namespace mesh::test
