// A small HTTP/1.1 server on 127.0.0.1:0 for download tests: one request per connection, each
// connection on its own thread, and a handler that decides what the client gets (a file with
// Range support, a dropped connection, silence, an error). Everything stops in the destructor.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mesh::updater::test {

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // lower-case names
};

class TestHttpServer {
 public:
  // fd: the connection, to write the response to (it is closed after the handler returns).
  using Handler = std::function<void(int fd, const HttpRequest& request)>;
  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path) const;
  std::vector<HttpRequest> requests() const;
  // Blocks the calling handler until the server stops (a server that never answers).
  void hold_until_stopped();

 private:
  void accept_loop();
  void serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::condition_variable stopped_cv_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
  std::vector<HttpRequest> requests_;
};

void send_all(int fd, std::string_view data);
// A complete response with Content-Length (and Connection: close).
void respond(int fd, int status, std::string_view body,
             const std::vector<std::pair<std::string, std::string>>& headers = {});

// Serves `content` like a static file server: 200, or 206 for "Range: bytes=N-" (416 past the
// end), with a strong ETag; "If-Range" with another ETag gets the whole file (200).
// drop_after: if set, the response is cut (connection closed) after that many body bytes.
void serve_content(int fd, const HttpRequest& request, const std::string& content,
                   const std::string& etag = "\"v1\"", std::int64_t drop_after = -1);

// Serves files under `root` by URL path, with serve_content semantics; 404 for anything else.
TestHttpServer::Handler static_files(const std::filesystem::path& root);

}  // namespace mesh::updater::test
