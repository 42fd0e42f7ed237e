// Streamed exchanges (Router::try_add_stream) against a real Server on 127.0.0.1:0, driven by
// the real curl binary and by raw sockets where a client has to misbehave or take turns.
// Assertions are on behaviour (bytes, status codes, errors, disconnects); waits have a generous
// bound only so that a bug fails the test instead of hanging it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "http_test_util.hpp"
#include "mesh/http/server.hpp"
#include "mesh/identity/identity.hpp"

extern char** environ;

using namespace mesh;
using namespace mesh::http;
using mesh::test::curl;
using mesh::test::CurlResult;
using mesh::test::run;
using mesh::test::write_file;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr auto kWait = 30s;  // a hang bound, not a timing assertion

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string chunk(std::string_view data) {
  std::ostringstream s;
  s << std::hex << data.size() << "\r\n" << data << "\r\n";
  return s.str();
}

// A raw client socket with a receive timeout, so a server that fails to answer or to disconnect
// makes the test fail instead of hang.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { close(); }
  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until the server closes. `closed` is false if the receive timeout hit instead.
  std::string read_all(bool* closed) {
    std::string out = std::move(pending_);
    pending_.clear();
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, n);
        continue;
      }
      *closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
      return out;
    }
  }
  // Everything up to and including `delim`; empty if the connection ended first.
  std::string read_until(std::string_view delim) {
    char buf[4096];
    for (;;) {
      auto at = pending_.find(delim);
      if (at != std::string::npos) {
        std::string out = pending_.substr(0, at + delim.size());
        pending_.erase(0, at + delim.size());
        return out;
      }
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return {};
      pending_.append(buf, n);
    }
  }
  std::string read_exactly(std::size_t len) {
    char buf[4096];
    while (pending_.size() < len) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return {};
      pending_.append(buf, n);
    }
    std::string out = pending_.substr(0, len);
    pending_.erase(0, len);
    return out;
  }
  std::string read_head() { return read_until("\r\n\r\n"); }
  // One chunk of a chunked body; nullopt if the connection ended. The last chunk is "".
  std::optional<std::string> read_chunk() {
    auto line = read_until("\r\n");
    if (line.empty()) return std::nullopt;
    std::size_t size = std::stoul(line, nullptr, 16);
    auto data = read_exactly(size + 2);
    if (data.size() != size + 2) return std::nullopt;
    return data.substr(0, size);
  }
  // A whole chunked body; nullopt if the connection ended before the last chunk.
  std::optional<std::string> read_chunked_body() {
    std::string body;
    for (;;) {
      auto c = read_chunk();
      if (!c) return std::nullopt;
      if (c->empty()) return body;
      body += *c;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

// A bounded hand-over between a reading and a writing thread (back-pressure both ways).
class Pipe {
 public:
  explicit Pipe(std::size_t cap) : cap_(cap) {}
  void push(std::string s) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return q_.size() < cap_; });
    q_.push_back(std::move(s));
    cv_.notify_all();
  }
  void close(bool ok) {
    std::lock_guard lock(mu_);
    closed_ = true;
    ok_ = ok;
    cv_.notify_all();
  }
  std::optional<std::string> pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return std::nullopt;
    auto s = std::move(q_.front());
    q_.pop_front();
    cv_.notify_all();
    return s;
  }
  bool ok() {
    std::lock_guard lock(mu_);
    return ok_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;
  std::size_t cap_;
  bool closed_ = false;
  bool ok_ = false;
};

// Echoes the request body: one thread reads while this one writes what it read, as the git
// plugin pumps git's stdin and stdout. Returns the first read error, if any.
std::optional<Error> echo(Exchange& ex, std::size_t piece = 64 * 1024) {
  Pipe pipe(8);
  std::optional<Error> failed;
  std::thread reader([&] {
    std::vector<char> buf(piece);
    for (;;) {
      auto n = ex.read(buf.data(), buf.size());
      if (!n) {
        failed = n.error();
        pipe.close(false);
        return;
      }
      if (*n == 0) {
        pipe.close(true);
        return;
      }
      pipe.push(std::string(buf.data(), *n));
    }
  });
  auto begun = ex.begin(200, {{"Content-Type", "application/octet-stream"},
                              {"Content-Length", "999"},  // ignored: the body is chunked
                              {"X-Echo", "yes"}});
  while (auto data = pipe.pop()) {
    if (begun) begun = ex.write(*data);
  }
  reader.join();
  (void)ex.end(pipe.ok() && begun.ok());
  return failed;
}

// Waits for a condition signalled from a worker thread.
class Flag {
 public:
  void set() {
    std::lock_guard lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

class HttpStreamTest : public ::testing::Test {
 protected:
  HttpStreamTest() : server_id_(identity::Identity::generate()) {
    dir_ = fs::temp_directory_path() / ("mesh-http-stream-test-" + std::to_string(::getpid()) +
                                        "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    router_ = std::make_shared<Router>();
  }

  ~HttpStreamTest() override {
    join_workers();
    if (server_) server_->stop();
    // After stop() the io_context runs out of work by itself: joining must not hang.
    for (auto& t : io_threads_) t.join();
    server_.reset();
    fs::remove_all(dir_);
  }

  void start(config::HttpConfig limits = {}) {
    auto tls = server_id_.tls_material("server");
    ASSERT_TRUE(tls);
    ServerOptions opts;
    opts.listen = config::HostPort{"127.0.0.1", 0};
    opts.limits = limits;
    opts.tls = *tls;
    auto s = Server::start(io_, std::move(opts), router_);
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
    for (int i = 0; i < 2; ++i) io_threads_.emplace_back([this] { io_.run(); });
  }

  std::string url(std::string_view scheme, std::string_view path) const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(server_->port()) +
           std::string(path);
  }
  std::string http(std::string_view path) const { return url("http", path); }
  std::string https(std::string_view path) const { return url("https", path); }

  // A streamed route whose handler hands the request and the exchange to a new worker thread
  // (handlers run on the I/O strand and must not block).
  using Work = std::function<void(Request, std::shared_ptr<Exchange>)>;
  void add_worker(std::string method, std::string prefix, RouteOptions options, Work work) {
    RouteId id = 0;
    ASSERT_TRUE(router_->try_add_stream(
        std::move(method), std::move(prefix), options,
        [this, work](Request&& req, std::shared_ptr<Exchange> ex) {
          handled_.fetch_add(1);
          std::lock_guard lock(mu_);
          workers_.emplace_back([work, req = std::move(req), ex = std::move(ex)]() mutable {
            work(std::move(req), std::move(ex));
          });
        },
        &id));
  }
  void add_echo(std::string prefix, RouteOptions options = {.max_body = 64 << 20}) {
    add_worker("POST", std::move(prefix), options, [this](Request req, auto ex) {
      auto failed = echo(*ex);
      std::lock_guard lock(mu_);
      remotes_.push_back(req.remote);
      if (failed) read_errors_.push_back(*failed);
    });
  }

  void join_workers() {
    for (;;) {
      std::vector<std::thread> ws;
      {
        std::lock_guard lock(mu_);
        ws.swap(workers_);
      }
      if (ws.empty()) return;
      for (auto& t : ws) t.join();
    }
  }

  static inline int counter_ = 0;
  boost::asio::io_context io_;
  std::vector<std::thread> io_threads_;
  identity::Identity server_id_;
  fs::path dir_;
  std::shared_ptr<Router> router_;
  std::unique_ptr<Server> server_;
  std::atomic<int> handled_{0};
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::vector<std::string> remotes_;
  std::vector<Error> read_errors_;
};

std::string pattern(std::size_t size) {
  std::string data(size, '\0');
  std::uint32_t x = 12345;
  for (auto& c : data) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 24);
  }
  return data;
}

TEST_F(HttpStreamTest, EchoesA20MiBChunkedBodyOverPlainAndTls) {
  add_echo("/echo");
  start();
  const std::string data = pattern(20 << 20);
  write_file(dir_ / "in", data);
  for (const auto& target : {http("/echo"), https("/echo")}) {
    fs::remove(dir_ / "out");
    auto r = curl({"-k", "-H", "Transfer-Encoding: chunked", "--data-binary",
                   "@" + (dir_ / "in").string(), "-D", (dir_ / "head").string(), "-o",
                   (dir_ / "out").string(), target});
    EXPECT_EQ(r.exit, 0) << target;
    EXPECT_EQ(r.status, 200) << target;
    auto out = read_file(dir_ / "out");
    EXPECT_EQ(out.size(), data.size()) << target;
    EXPECT_TRUE(out == data) << target << ": the echo differs";
    auto head = read_file(dir_ / "head");
    EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("Server: mesh\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("X-Echo: yes\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  }
  join_workers();
  EXPECT_EQ(handled_.load(), 2);
  std::lock_guard lock(mu_);
  EXPECT_TRUE(read_errors_.empty());
}

// The client sends the next piece of the body only after it got the echo of the previous one,
// so the worker's write must go out while its read is waiting on the socket.
TEST_F(HttpStreamTest, ReadAndWriteAreInFlightTogether) {
  add_echo("/echo");
  start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
  for (int i = 0; i < 20; ++i) {
    std::string piece = "ping " + std::to_string(i);
    ASSERT_TRUE(c.send(chunk(piece)));
    if (i == 0) {
      auto head = c.read_head();
      ASSERT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
    }
    auto got = c.read_chunk();
    ASSERT_TRUE(got.has_value()) << "no echo for piece " << i;
    EXPECT_EQ(*got, piece);
  }
  ASSERT_TRUE(c.send("0\r\n\r\n"));
  auto last = c.read_chunk();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, "");
}

TEST_F(HttpStreamTest, ContentLengthOverTheLimitIs413BeforeTheHandler) {
  add_echo("/small", RouteOptions{.max_body = 1000});
  start();
  write_file(dir_ / "big", std::string(5000, 'x'));
  auto r = curl({"--data-binary", "@" + (dir_ / "big").string(), http("/small")});
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(handled_.load(), 0);
  // Within the limit it goes through.
  auto ok = curl({"--data-binary", "exactly this", http("/small")});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "exactly this");
  // A Content-Length over Beast's default of 1 MiB still reaches a route that allows it.
  add_echo("/large", RouteOptions{.max_body = 4 << 20});
  write_file(dir_ / "2m", pattern(2 << 20));
  auto large = curl({"--data-binary", "@" + (dir_ / "2m").string(), "-o", (dir_ / "out").string(),
                     http("/large")});
  EXPECT_EQ(large.status, 200);
  EXPECT_TRUE(read_file(dir_ / "out") == pattern(2 << 20));
}

TEST_F(HttpStreamTest, ChunkedBodyOverTheLimitFailsTheRead) {
  std::atomic<std::size_t> total{0};
  std::optional<Errc> code;
  add_worker("POST", "/small", RouteOptions{.max_body = 1000}, [&](Request, auto ex) {
    char buf[300];
    for (;;) {
      auto n = ex->read(buf, sizeof buf);
      if (!n) {
        code = n.error().code;
        break;
      }
      if (*n == 0) break;
      total += *n;
    }
    // Dropped unanswered after a limit error: the server says 413.
  });
  start();
  write_file(dir_ / "big", std::string(5000, 'x'));
  auto r = curl({"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + (dir_ / "big").string(),
                 http("/small")});
  join_workers();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, Errc::limit);
  EXPECT_LE(total.load(), 1000u);
  EXPECT_EQ(r.status, 413);
}

TEST_F(HttpStreamTest, KeepAliveCarriesTwoStreamedRequests) {
  add_echo("/echo");
  start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  for (const std::string body : {"first body", "second, longer body"}) {
    ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body));
    auto head = c.read_head();
    ASSERT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
    EXPECT_EQ(head.find("Connection: close"), std::string::npos) << head;
    auto echoed = c.read_chunked_body();
    ASSERT_TRUE(echoed.has_value());
    EXPECT_EQ(*echoed, body);
  }
  join_workers();
  std::lock_guard lock(mu_);
  ASSERT_EQ(remotes_.size(), 2u);
  EXPECT_EQ(remotes_[0], remotes_[1]);
}

TEST_F(HttpStreamTest, UnreadBodyClosesTheConnectionAfterTheResponse) {
  add_worker("POST", "/early", {}, [](Request, auto ex) {
    EXPECT_TRUE(ex->respond(Response::text(201, "made\n")));
    // The response is out: the exchange is over.
    EXPECT_EQ(ex->begin(200, {}).error().code, Errc::state);
    EXPECT_EQ(ex->respond(Response::text(200, "again")).error().code, Errc::state);
  });
  start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send("POST /early HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nsome"));
  auto head = c.read_head();
  EXPECT_TRUE(head.starts_with("HTTP/1.1 201")) << head;
  EXPECT_EQ(c.read_exactly(5), "made\n");
  bool closed = false;
  c.read_all(&closed);
  EXPECT_TRUE(closed) << "kept a connection whose request body was never read";
}

TEST_F(HttpStreamTest, RespondWorksOnAStreamedRoute) {
  add_worker("POST", "/respond", {}, [](Request req, auto ex) {
    std::string body;
    char buf[7];
    for (;;) {
      auto n = ex->read(buf, sizeof buf);
      if (!n || *n == 0) break;
      body.append(buf, *n);
    }
    EXPECT_EQ(ex->read(buf, sizeof buf).value(), 0u);  // the end stays the end
    auto r = Response::text(201, req.path + " got " + body);
    r.headers.emplace_back("X-Done", "1");
    EXPECT_TRUE(ex->respond(std::move(r)));
    EXPECT_EQ(ex->write("late").error().code, Errc::state);
    EXPECT_EQ(ex->end(true).error().code, Errc::state);
  });
  start();
  auto r = curl({"-i", "--data-binary", "hello streamed world", http("/respond/x")});
  EXPECT_EQ(r.status, 201);
  EXPECT_NE(r.body.find("X-Done: 1\r\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("Content-Length: "), std::string::npos) << r.body;
  EXPECT_TRUE(r.body.ends_with("/respond/x got hello streamed world")) << r.body;
  // Over TLS too, twice on one connection.
  auto tls = curl({"-k", "--data-binary", "a", https("/respond/1"), "--next", "-s", "-k", "-w",
                   "\n%{http_code}", "--data-binary", "b", https("/respond/2")});
  EXPECT_EQ(tls.body, "/respond/1 got a\n201/respond/2 got b");
}

TEST_F(HttpStreamTest, DroppingTheExchangeUnansweredIs500) {
  RouteId id = 0;
  ASSERT_TRUE(router_->try_add_stream(
      "GET", "/drop", {}, [](Request&&, auto) {}, &id));
  ASSERT_TRUE(router_->try_add_stream(
      "GET", "/throw", {}, [](Request&&, auto) -> void { throw std::runtime_error("boom"); }, &id));
  add_worker("POST", "/later", {}, [](Request, auto ex) {
    char buf[64];
    while (true) {
      auto n = ex->read(buf, sizeof buf);
      if (!n || *n == 0) break;
    }
  });  // dropped after reading the body
  add_worker("GET", "/end", {}, [](Request, auto ex) {
    EXPECT_EQ(ex->end(true).error().code, Errc::state);  // end() without begin(): a 500
  });
  start();
  EXPECT_EQ(curl({http("/drop")}).status, 500);
  EXPECT_EQ(curl({http("/throw")}).status, 500);
  EXPECT_EQ(curl({"--data", "x=1", http("/later")}).status, 500);
  EXPECT_EQ(curl({"-k", "--data", "x=1", https("/later")}).status, 500);
  EXPECT_EQ(curl({http("/end")}).status, 500);
  // The connection is still good for another request after a 500 with the body read.
  auto two = curl({http("/drop"), http("/drop")});
  EXPECT_EQ(two.body, "the handler did not answer\n\n500the handler did not answer\n");
}

TEST_F(HttpStreamTest, BrokenOffResponseIsTruncated) {
  add_worker("GET", "/fail", {}, [](Request, auto ex) {
    EXPECT_TRUE(ex->begin(200, {}));
    EXPECT_TRUE(ex->write("partial data"));
    EXPECT_TRUE(ex->end(false));
    EXPECT_EQ(ex->write("more").error().code, Errc::state);
  });
  add_worker("GET", "/drop", {}, [](Request, auto ex) {
    EXPECT_TRUE(ex->begin(200, {}));
    EXPECT_TRUE(ex->write("partial data"));
  });  // dropped mid-body
  start();
  for (const auto& target : {http("/fail"), http("/drop"), https("/fail"), https("/drop")}) {
    auto r = curl({"-k", target});
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_NE(r.exit, 0) << target << ": curl took a truncated body for a whole one";
    EXPECT_EQ(r.body, "partial data") << target;
  }
  // A raw client sees the connection end without the last chunk.
  RawClient c(server_->port());
  ASSERT_TRUE(c.send("GET /fail HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  EXPECT_TRUE(c.read_head().starts_with("HTTP/1.1 200"));
  EXPECT_EQ(c.read_chunk(), std::optional<std::string>("partial data"));
  EXPECT_EQ(c.read_chunk(), std::nullopt);
}

TEST_F(HttpStreamTest, ClientVanishingMidBodyFailsTheRead) {
  Flag first;
  std::optional<Error> error;
  std::chrono::steady_clock::duration took{};
  add_worker("POST", "/up", {}, [&](Request, auto ex) {
    char buf[1024];
    auto n = ex->read(buf, sizeof buf);
    EXPECT_TRUE(n && *n > 0);
    first.set();
    auto t0 = std::chrono::steady_clock::now();
    for (;;) {
      n = ex->read(buf, sizeof buf);
      if (!n) {
        error = n.error();
        break;
      }
      if (*n == 0) break;
    }
    took = std::chrono::steady_clock::now() - t0;
  });
  start();  // body timeout 60 s: only the disconnect can end the read quickly
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.send("POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\nabc"));
    ASSERT_TRUE(first.wait());
    std::this_thread::sleep_for(100ms);  // let the worker block in read()
  }
  join_workers();
  ASSERT_TRUE(error.has_value()) << "read() did not fail";
  EXPECT_EQ(error->code, Errc::io) << error->message;
  EXPECT_LT(took, 10s);
}

TEST_F(HttpStreamTest, SlowBodyTimesOutTheRead) {
  std::optional<Error> error;
  add_worker("POST", "/up", {}, [&](Request, auto ex) {
    char buf[1024];
    for (;;) {
      auto n = ex->read(buf, sizeof buf);
      if (!n) {
        error = n.error();
        break;
      }
      if (*n == 0) break;
    }
  });
  config::HttpConfig limits;
  limits.body_timeout_ms = 300;
  start(limits);
  RawClient c(server_->port());
  ASSERT_TRUE(c.send("POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nabc"));
  bool closed = false;
  c.read_all(&closed);
  EXPECT_TRUE(closed);
  join_workers();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, Errc::io);
}

TEST_F(HttpStreamTest, StopWakesABlockedReader) {
  Flag first;
  std::optional<Error> error;
  std::optional<Status> after;
  add_worker("POST", "/up", {}, [&](Request, auto ex) {
    char buf[1024];
    auto n = ex->read(buf, sizeof buf);
    EXPECT_TRUE(n && *n > 0);
    first.set();
    n = ex->read(buf, sizeof buf);  // blocks: the client sends nothing more
    if (!n) error = n.error();
    after = ex->begin(200, {});
  });
  start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send("POST /up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\nabc"));
  ASSERT_TRUE(first.wait());
  std::this_thread::sleep_for(200ms);
  server_->stop();
  join_workers();
  ASSERT_TRUE(error.has_value()) << "read() did not fail";
  EXPECT_EQ(error->code, Errc::io);
  ASSERT_TRUE(after.has_value());
  EXPECT_FALSE(*after);
  bool closed = false;
  c.read_all(&closed);
  EXPECT_TRUE(closed);
}

TEST_F(HttpStreamTest, OneReadAndOneWriteAtATime) {
  // Two readers and two writers race; whichever of each pair comes second must be refused at
  // once (Errc::state) while the first stays blocked on the socket. No timing assumptions:
  // the test waits for the two refusals, then the client leaves and the blocked ones fail.
  std::mutex mu;
  std::condition_variable cv;
  int read_refused = 0, write_refused = 0, read_other = 0, write_other = 0, succeeded = 0;
  add_worker("POST", "/busy", {}, [&](Request, std::shared_ptr<Exchange> ex) {
    ASSERT_TRUE(ex->begin(200, {}));
    const std::string big(64 << 20, 'w');  // the client never reads: this write blocks
    auto count = [&](bool ok, bool refused, int& refused_n, int& other_n) {
      std::lock_guard lock(mu);
      if (ok) ++succeeded;
      ++(refused ? refused_n : other_n);
      cv.notify_all();
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&] {
        char buf[16];
        auto r = ex->read(buf, sizeof buf);  // nothing is sent: blocks, or is refused
        count(bool(r), !r && r.error().code == Errc::state, read_refused, read_other);
      });
      threads.emplace_back([&] {
        auto w = ex->write(big);
        count(bool(w), !w && w.error().code == Errc::state, write_refused, write_other);
      });
    }
    for (auto& t : threads) t.join();
  });
  start();
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.send("POST /busy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"));
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kWait, [&] { return read_refused + write_refused == 2; }))
        << "refused reads " << read_refused << ", refused writes " << write_refused;
    // One of each pair was refused; the first of each is still blocked, not finished.
    EXPECT_EQ(read_refused, 1);
    EXPECT_EQ(write_refused, 1);
    EXPECT_EQ(read_other, 0);
    EXPECT_EQ(write_other, 0);
  }  // the client leaves: both blocked calls fail
  join_workers();
  // Both ended, with an error: which code (a broken connection can also read as "state")
  // depends on whether the failed write or the closed socket is noticed first.
  EXPECT_EQ(read_refused + read_other, 2);
  EXPECT_EQ(write_refused + write_other, 2);
  EXPECT_EQ(succeeded, 0);
}

TEST_F(HttpStreamTest, ExpectContinueIsAnsweredBeforeTheBody) {
  add_echo("/echo");
  start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send(
      "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto cont = c.read_head();
  ASSERT_TRUE(cont.starts_with("HTTP/1.1 100 Continue")) << cont;
  ASSERT_TRUE(c.send("hello"));
  EXPECT_TRUE(c.read_head().starts_with("HTTP/1.1 200"));
  EXPECT_EQ(c.read_chunked_body(), std::optional<std::string>("hello"));
}

TEST_F(HttpStreamTest, HeadDoesNotFallBackToAStreamedGet) {
  add_worker("GET", "/s", {}, [](Request, auto ex) {
    EXPECT_TRUE(ex->begin(200, {}));
    EXPECT_TRUE(ex->write("body"));
    EXPECT_TRUE(ex->end(true));
  });
  start();
  auto get = curl({http("/s")});
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "body");
  auto head = curl({"-I", http("/s")});
  EXPECT_EQ(head.status, 405);
  EXPECT_EQ(handled_.load(), 1);
}

TEST_F(HttpStreamTest, AccessRulesApplyBeforeTheHandler) {
  add_echo("/local", RouteOptions{.access = Access::local});
  add_echo("/member", RouteOptions{.access = Access::member});
  config::HttpConfig limits;
  limits.trust_loopback = false;  // loopback clients are strangers now
  start(limits);
  EXPECT_EQ(curl({"--data", "x", http("/member")}).status, 403);
  EXPECT_EQ(curl({"-k", "--data", "x", https("/member")}).status, 403);
  EXPECT_EQ(curl({"--data", "x", http("/local")}).status, 403);
  EXPECT_EQ(handled_.load(), 0);
}

}  // namespace
