#include "test_http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mesh::updater::test {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  return s;
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 302:
      return "Found";
    case 404:
      return "Not Found";
    case 416:
      return "Range Not Satisfiable";
    case 500:
      return "Internal Server Error";
    default:
      return "Status";
  }
}

}  // namespace

TestHttpServer::TestHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::pipe2(wake_, O_CLOEXEC) != 0) {
    throw std::runtime_error("test server: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestHttpServer::~TestHttpServer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  stopped_cv_.notify_all();
  (void)!::write(wake_[1], "x", 1);
  acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

std::string TestHttpServer::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::vector<HttpRequest> TestHttpServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void TestHttpServer::hold_until_stopped() {
  std::unique_lock lock(mu_);
  stopped_cv_.wait(lock, [this] { return stopping_; });
}

void TestHttpServer::accept_loop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void TestHttpServer::serve(int fd) {
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    head.append(buf, static_cast<std::size_t>(n));
  }
  HttpRequest req;
  std::istringstream in(head);
  std::string line;
  if (std::getline(in, line)) {
    std::istringstream first(line);
    first >> req.method >> req.path;
    while (std::getline(in, line) && line != "\r" && !line.empty()) {
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      req.headers[lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
    }
  }
  if (!req.method.empty()) {
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
    }
    handler_(fd, req);
  }
  std::lock_guard lock(mu_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  ::close(fd);
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void respond(int fd, int status, std::string_view body,
             const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  head += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) head += k + ": " + v + "\r\n";
  head += "\r\n";
  send_all(fd, head);
  send_all(fd, body);
}

void serve_content(int fd, const HttpRequest& request, const std::string& content,
                   const std::string& etag, std::int64_t drop_after) {
  std::size_t start = 0;
  bool partial = false;
  auto range = request.headers.find("range");
  auto if_range = request.headers.find("if-range");
  bool range_valid = if_range == request.headers.end() || if_range->second == etag;
  if (range != request.headers.end() && range_valid && range->second.starts_with("bytes=")) {
    start = std::stoull(range->second.substr(6));
    if (start >= content.size()) {
      respond(fd, 416, "", {{"Content-Range", "bytes */" + std::to_string(content.size())}});
      return;
    }
    partial = true;
  }
  std::string body = content.substr(start);
  std::string head = "HTTP/1.1 " + std::string(partial ? "206 Partial Content" : "200 OK") + "\r\n";
  head += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n";
  head += "ETag: " + etag + "\r\nAccept-Ranges: bytes\r\n";
  if (partial) {
    head += "Content-Range: bytes " + std::to_string(start) + "-" +
            std::to_string(content.size() - 1) + "/" + std::to_string(content.size()) + "\r\n";
  }
  head += "\r\n";
  send_all(fd, head);
  if (drop_after >= 0 && static_cast<std::size_t>(drop_after) < body.size()) {
    send_all(fd, std::string_view(body).substr(0, static_cast<std::size_t>(drop_after)));
    ::shutdown(fd, SHUT_RDWR);  // the client sees the connection end mid-body
    return;
  }
  send_all(fd, body);
}

TestHttpServer::Handler static_files(const fs::path& root) {
  return [root](int fd, const HttpRequest& req) {
    std::string path = req.path.substr(0, req.path.find('?'));
    if (path.find("..") != std::string::npos || path.empty() || path[0] != '/') {
      respond(fd, 404, "not found");
      return;
    }
    fs::path file = root / path.substr(1);
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
      respond(fd, 404, "not found");
      return;
    }
    std::ifstream in(file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    serve_content(fd, req, ss.str());
  };
}

}  // namespace mesh::updater::test
