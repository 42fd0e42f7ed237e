// Drives a real Server on 127.0.0.1:0 with the real curl binary, and raw sockets where curl
// cannot misbehave on purpose. Assertions are on behaviour (status codes, bodies, disconnects).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "http_test_util.hpp"
#include "mesh/http/server.hpp"
#include "mesh/identity/identity.hpp"
#include "mesh/identity/local_tls.hpp"

extern char** environ;

using namespace mesh;
using namespace mesh::http;
using mesh::test::curl;
using mesh::test::CurlResult;
using mesh::test::run;
using mesh::test::write_file;
namespace fs = std::filesystem;

namespace {

// Polls until pred() holds (a deadline, not a timing assertion).
template <class F>
bool eventually_true(F pred) {
  for (int i = 0; i < 400; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return pred();
}

// A raw client socket with a receive timeout, so a server that fails to disconnect makes the
// test fail instead of hang.
class RawClient {
 public:
  // `source`: the local address to connect from (any of 127/8 works on Linux).
  explicit RawClient(std::uint16_t port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (source) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &local.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  // True if the server closed the connection; false if it is still open after `ms`.
  bool closed_within(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return false;
    char c;
    return ::recv(fd_, &c, 1, MSG_PEEK) <= 0;
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
    std::string out;
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
  // Reads one response whose body is `body_len` bytes.
  std::string read_response() {
    std::string out;
    char buf[4096];
    while (true) {
      auto end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto cl = out.find("Content-Length: ");
        std::size_t len = cl == std::string::npos ? 0 : std::stoul(out.substr(cl + 16));
        if (out.size() >= end + 4 + len) return out;
      }
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, n);
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest()
      : server_id_(identity::Identity::generate()),
        member_(identity::Identity::generate()),
        stranger_(identity::Identity::generate()) {
    dir_ = fs::temp_directory_path() /
           ("mesh-http-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    auto m = member_.tls_material("member");
    auto s = stranger_.tls_material("stranger");
    EXPECT_TRUE(m && s);
    write_file(dir_ / "member.crt", m->cert_pem);
    write_file(dir_ / "member.key", m->key_pem);
    write_file(dir_ / "stranger.crt", s->cert_pem);
    write_file(dir_ / "stranger.key", s->key_pem);
    members_.insert(member_.public_key());
    router_ = std::make_shared<Router>();
  }

  ~HttpServerTest() override {
    // Handlers add helpers on I/O threads; the only ordering with this thread is the client's
    // socket, which ThreadSanitizer cannot see, so the list is taken under the handlers' lock.
    std::vector<std::thread> helpers;
    {
      std::lock_guard lock(mu_);
      helpers.swap(helpers_);
    }
    for (auto& t : helpers) t.join();
    if (server_) {
      server_->stop();
      server_->stop();  // idempotent
    }
    // After stop() the io_context runs out of work by itself: joining must not hang.
    for (auto& t : io_threads_) t.join();
    server_.reset();
    fs::remove_all(dir_);
  }

  void start(config::HttpConfig limits = {}, std::string host = "127.0.0.1") {
    auto tls = server_id_.tls_material("server");
    ASSERT_TRUE(tls);
    ServerOptions opts;
    opts.listen = config::HostPort{host, 0};
    opts.limits = limits;
    opts.tls = *tls;
    opts.local_tls = local_tls_;
    opts.capacity = capacity_;
    opts.csrf_token = csrf_token_;
    opts.is_member = [this](const identity::PublicKey& k) {
      std::lock_guard lock(mu_);
      return members_.count(k) > 0;
    };
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
  std::string port() const { return std::to_string(server_->port()); }
  std::string self_origin() const { return "http://localhost:" + port(); }
  std::vector<std::string> as_member() const {
    return {"-k", "--cert", (dir_ / "member.crt").string(), "--key",
            (dir_ / "member.key").string()};
  }

  void add_text(std::string method, std::string prefix, std::string body,
                RouteOptions options = {}) {
    router_->add(std::move(method), std::move(prefix), options,
                 [body](Request&&, Responder respond) { respond(Response::text(200, body)); });
  }

  // Records the last request a route saw.
  void add_recorder(std::string method, std::string prefix, RouteOptions options = {}) {
    router_->add(std::move(method), std::move(prefix), options,
                 [this](Request&& req, Responder respond) {
                   {
                     std::lock_guard lock(mu_);
                     seen_.push_back(req);
                   }
                   respond(Response::text(200, "size=" + std::to_string(req.body.size())));
                 });
  }
  std::vector<Request> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  static inline int counter_ = 0;
  boost::asio::io_context io_;
  std::vector<std::thread> io_threads_;
  std::vector<std::thread> helpers_;
  identity::Identity server_id_;
  identity::Identity member_;
  identity::Identity stranger_;
  fs::path dir_;
  std::mutex mu_;
  std::set<identity::PublicKey> members_;
  std::vector<Request> seen_;
  std::shared_ptr<Router> router_;
  std::unique_ptr<Server> server_;
  std::string csrf_token_;
  std::optional<identity::TlsMaterial> local_tls_;
  CapacityLimits capacity_;
};

TEST_F(HttpServerTest, PlainGet) {
  add_recorder("GET", "/hello");
  start();
  EXPECT_TRUE(server_->local_address().starts_with("127.0.0.1:"));
  EXPECT_NE(server_->port(), 0);
  auto r = curl({http("/hello/world?x=1&y=2")});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "size=0");
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].method, "GET");
  EXPECT_EQ(s[0].path, "/hello/world");
  EXPECT_EQ(s[0].query, "x=1&y=2");
  EXPECT_EQ(s[0].target, "/hello/world?x=1&y=2");
  EXPECT_TRUE(s[0].loopback);
  EXPECT_FALSE(s[0].tls);
  EXPECT_FALSE(s[0].peer.has_value());
  EXPECT_TRUE(s[0].remote.starts_with("127.0.0.1:"));
  EXPECT_FALSE(s[0].header("user-agent").empty());
}

TEST_F(HttpServerTest, ResponseHeaders) {
  router_->add("GET", "/h", {}, [](Request&&, Responder respond) {
    auto r = Response::json(201, "{\"a\":1}");
    r.headers.emplace_back("X-Custom", "yes");
    r.headers.emplace_back("X-Evil", "a\r\nInjected: 1");  // dropped, never sent
    respond(std::move(r));
  });
  start();
  auto r = curl({"-i", http("/h")});
  EXPECT_EQ(r.status, 201);
  EXPECT_NE(r.body.find("Server: mesh\r\n"), std::string::npos);
  EXPECT_NE(r.body.find("Content-Length: 7\r\n"), std::string::npos);
  EXPECT_NE(r.body.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(r.body.find("X-Custom: yes\r\n"), std::string::npos);
  EXPECT_EQ(r.body.find("Injected"), std::string::npos);
  EXPECT_TRUE(r.body.ends_with("{\"a\":1}"));
}

TEST_F(HttpServerTest, TlsGetServesTheIdentityKey) {
  add_recorder("GET", "/");
  start();
  auto r = curl({"-k", https("/x")});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "size=0");
  auto pinned = curl({"-k", "--pinnedpubkey", server_id_.public_key().spki_pin(), https("/x")});
  EXPECT_EQ(pinned.status, 200);
  auto wrong = curl({"-k", "--pinnedpubkey", stranger_.public_key().spki_pin(), https("/x")});
  EXPECT_NE(wrong.exit, 0);
  EXPECT_EQ(wrong.status, 0);
  // TLS 1.2 is refused.
  auto old = curl({"-k", "--tls-max", "1.2", https("/x")});
  EXPECT_NE(old.exit, 0);
  EXPECT_EQ(old.status, 0);
  auto s = seen();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_TRUE(s[0].tls);
  EXPECT_FALSE(s[0].peer.has_value());
}

TEST_F(HttpServerTest, LocalClientsAlsoGetTls12AndAP256Certificate) {
  add_recorder("GET", "/");
  auto local = identity::load_or_create_local_tls(dir_, "server");
  ASSERT_TRUE(local) << local.error().message;
  local_tls_ = *local;
  auto node = server_id_.tls_material("server");
  ASSERT_TRUE(node);
  ASSERT_TRUE(identity::write_local_ca(dir_, node->cert_pem, local->cert_pem));
  const std::string ca = identity::local_ca_path(dir_).string();
  start();
  const std::string port = std::to_string(server_->port());
  // Verified (not -k) against the CA file, by name and by address, TLS 1.3 and 1.2.
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    EXPECT_EQ(curl({"--cacert", ca, "https://" + host + ":" + port + "/x"}).status, 200) << host;
    EXPECT_EQ(
        curl({"--cacert", ca, "--tls-max", "1.2", "https://" + host + ":" + port + "/x"}).status,
        200)
        << host;
  }
  // A client that knows neither TLS 1.3 nor Ed25519 (as mbedTLS 2.28) gets the P-256
  // certificate and verifies it.
  auto ecdsa = run({"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-tls1_2", "-sigalgs",
                    "ECDSA+SHA256", "-CAfile", ca, "-verify_return_error", "-verify_hostname",
                    "localhost", "-servername", "localhost"});
  EXPECT_EQ(ecdsa.exit, 0) << ecdsa.out;
  EXPECT_NE(ecdsa.out.find("Peer signature type: ECDSA"), std::string::npos) << ecdsa.out;
  EXPECT_NE(ecdsa.out.find("Verify return code: 0 (ok)"), std::string::npos) << ecdsa.out;
  // One that can verify Ed25519 gets the node certificate, the identity.
  auto pinned = curl({"-k", "--pinnedpubkey", server_id_.public_key().spki_pin(), https("/x")});
  EXPECT_EQ(pinned.status, 200);
  // A different certificate at the same address fails verification.
  auto other = identity::Identity::generate().tls_material("other");
  ASSERT_TRUE(other);
  write_file(dir_ / "other.pem", other->cert_pem);
  auto wrong = curl({"--cacert", (dir_ / "other.pem").string(), https("/x")});
  EXPECT_NE(wrong.exit, 0);
  EXPECT_EQ(wrong.status, 0);
  // Members stay on TLS 1.3: a client certificate over TLS 1.2 is refused.
  auto args = as_member();
  args.insert(args.end(), {"--tls-max", "1.2", https("/x")});
  auto old = curl(args);
  EXPECT_NE(old.exit, 0);
  EXPECT_EQ(old.status, 0);
  args = as_member();
  args.push_back(https("/x"));
  EXPECT_EQ(curl(args).status, 200);
  auto s = seen();
  ASSERT_FALSE(s.empty());
  ASSERT_TRUE(s.back().peer.has_value());
  EXPECT_EQ(*s.back().peer, member_.public_key());
}

TEST_F(HttpServerTest, MemberCertificateSetsPeer) {
  add_recorder("GET", "/who");
  start();
  auto args = as_member();
  args.push_back(https("/who"));
  auto r = curl(args);
  EXPECT_EQ(r.status, 200);
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  ASSERT_TRUE(s[0].peer.has_value());
  EXPECT_EQ(*s[0].peer, member_.public_key());
  EXPECT_TRUE(s[0].tls);
}

TEST_F(HttpServerTest, NonMemberCertificateFailsTheHandshake) {
  add_recorder("GET", "/");
  start();
  auto r = curl({"-k", "--cert", (dir_ / "stranger.crt").string(), "--key",
                 (dir_ / "stranger.key").string(), https("/x")});
  EXPECT_NE(r.exit, 0);
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(seen().empty());
}

TEST_F(HttpServerTest, RemovedMemberIsRefusedOnTheNextConnection) {
  add_recorder("GET", "/");
  start();
  auto args = as_member();
  args.push_back(https("/x"));
  EXPECT_EQ(curl(args).status, 200);
  {
    std::lock_guard lock(mu_);
    members_.clear();
  }
  auto r = curl(args);
  EXPECT_NE(r.exit, 0);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(seen().size(), 1u);
}

TEST_F(HttpServerTest, WithoutLoopbackTrustOnlyMembersGetIn) {
  add_text("GET", "/", "ok");
  config::HttpConfig limits;
  limits.trust_loopback = false;
  start(limits);
  auto plain = curl({http("/x")});
  EXPECT_EQ(plain.status, 403);
  EXPECT_EQ(plain.body, "a member certificate is required\n");
  auto certless = curl({"-k", https("/x")});
  EXPECT_EQ(certless.status, 403);
  EXPECT_EQ(certless.body, "a member certificate is required\n");
  // Unknown routes are refused the same way: nothing about the route table leaks.
  EXPECT_EQ(curl({http("/")}).status, 403);
  auto args = as_member();
  args.push_back(https("/x"));
  auto member = curl(args);
  EXPECT_EQ(member.status, 200);
  EXPECT_EQ(member.body, "ok");
}

TEST_F(HttpServerTest, NotFoundAndMethodNotAllowed) {
  add_text("GET", "/only-get", "ok");
  start();
  EXPECT_EQ(curl({http("/nothing")}).status, 404);
  EXPECT_EQ(curl({"-X", "DELETE", http("/only-get")}).status, 405);
  EXPECT_EQ(curl({"--data", "x=1", http("/only-get/sub")}).status, 405);
  EXPECT_EQ(curl({http("/only-get")}).status, 200);
  // Dot segments never reach a handler.
  EXPECT_EQ(curl({"--path-as-is", http("/only-get/../secret")}).status, 400);
}

TEST_F(HttpServerTest, PatternRouteCapturesReachTheHandlerDecoded) {
  add_recorder("GET", "/repos/{repo}/ci/{run}");
  start();
  auto r = curl({http("/repos/a%2Fb/ci/7?x=1")});
  EXPECT_EQ(r.status, 200);
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].path, "/repos/a%2Fb/ci/7");  // the path stays as received
  ASSERT_EQ(s[0].params.size(), 2u);
  EXPECT_EQ(s[0].params[0], (std::pair<std::string, std::string>{"repo", "a/b"}));
  EXPECT_EQ(s[0].params[1], (std::pair<std::string, std::string>{"run", "7"}));
  EXPECT_EQ(s[0].param("run"), "7");
  // A bad escape in a capture is a 400 and never reaches the handler.
  auto bad = curl({http("/repos/%zz/ci/7")});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, "malformed percent-escape in the path\n");
  EXPECT_EQ(curl({http("/repos/a/ci/7/more")}).status, 404);  // exact, not a prefix
  EXPECT_EQ(seen().size(), 1u);
}

TEST_F(HttpServerTest, HeadIsGetWithoutBody) {
  add_text("GET", "/page", "hello");
  start();
  auto r = curl({"-I", http("/page")});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(r.body.find("hello"), std::string::npos);
  // HEAD reads: it needs no CSRF token on a UI route, even when answered by the GET route.
  add_text("GET", "/ui", "page", RouteOptions{.access = Access::local});
  EXPECT_EQ(curl({"-I", http("/ui")}).status, 200);
  EXPECT_EQ(curl({"-I", "-H", "Origin: http://evil.example", http("/ui")}).status, 200);
}

TEST_F(HttpServerTest, BodyOverTheRouteLimitIs413BeforeTheHandler) {
  add_recorder("POST", "/small", RouteOptions{.max_body = 100});
  start();
  write_file(dir_ / "big", std::string(5000, 'x'));
  write_file(dir_ / "ok", std::string(100, 'y'));
  auto big = curl({"--data-binary", "@" + (dir_ / "big").string(), http("/small")});
  EXPECT_EQ(big.status, 413);
  auto chunked = curl({"-H", "Transfer-Encoding: chunked", "--data-binary",
                       "@" + (dir_ / "big").string(), http("/small")});
  EXPECT_EQ(chunked.status, 413);
  EXPECT_TRUE(seen().empty());
  auto ok = curl({"--data-binary", "@" + (dir_ / "ok").string(), http("/small")});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "size=100");
}

TEST_F(HttpServerTest, ChunkedUploadIsAccepted) {
  add_recorder("POST", "/upload", RouteOptions{.max_body = 1 << 20});
  start();
  std::string data;
  for (int i = 0; i < 300'000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  write_file(dir_ / "data", data);
  auto r = curl({"-H", "Transfer-Encoding: chunked", "--data-binary",
                 "@" + (dir_ / "data").string(), http("/upload")});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "size=300000");
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].body, data);
  EXPECT_EQ(s[0].header("transfer-encoding"), "chunked");
  // The same over TLS as a member.
  auto args = as_member();
  for (std::string a : {"-H", "Transfer-Encoding: chunked", "--data-binary"}) args.push_back(a);
  args.push_back("@" + (dir_ / "data").string());
  args.push_back(https("/upload"));
  auto tls = curl(args);
  EXPECT_EQ(tls.status, 200);
  EXPECT_EQ(tls.body, "size=300000");
}

TEST_F(HttpServerTest, OversizedHeaderIsRefused) {
  add_text("GET", "/", "ok");
  config::HttpConfig limits;
  limits.max_header_bytes = 4096;
  start(limits);
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  std::string req =
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  c.send(req);
  bool closed = false;
  auto out = c.read_all(&closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 431")) << out.substr(0, 100);
  // curl agrees.
  EXPECT_EQ(curl({"-H", "X-Big: " + std::string(8000, 'b'), http("/")}).status, 431);
  EXPECT_EQ(curl({http("/")}).status, 200);
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  add_text("GET", "/", "ok");
  start();
  RawClient c(server_->port());
  c.send("GET / HTTP/1.1\r\nHost x\r\n\r\n");
  bool closed = false;
  auto out = c.read_all(&closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 400")) << out;
}

TEST_F(HttpServerTest, ResponderFromAnotherThreadLater) {
  router_->add("GET", "/slow", {}, [this](Request&& req, Responder respond) {
    std::lock_guard lock(mu_);
    helpers_.emplace_back([respond, path = req.path] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      respond(Response::text(200, "late " + path));
      respond(Response::text(500, "twice"));  // harmless
    });
  });
  start();
  auto r = curl({http("/slow/x")});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "late /slow/x");
  // Again over the same kept-alive connection, and over TLS.
  auto two = curl({http("/slow/a"), http("/slow/b")});
  EXPECT_EQ(two.body, "late /slow/a\n200late /slow/b");  // -w prints a status per URL
  EXPECT_EQ(curl({"-k", https("/slow/t")}).body, "late /slow/t");
}

TEST_F(HttpServerTest, ResponderOutlivingTheConnectionIsHarmless) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<Responder> kept;
  router_->add("GET", "/hold", {}, [&](Request&&, Responder respond) {
    std::lock_guard lock(m);
    kept = std::move(respond);
    cv.notify_all();
  });
  start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send("GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return kept.has_value(); }));
  }
  // stop() drops the request still in its handler: the client sees the connection close with
  // no response at all.
  server_->stop();
  bool closed = false;
  EXPECT_EQ(c.read_all(&closed), "");
  EXPECT_TRUE(closed);
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  (*kept)(Response::text(200, "too late"));  // dropped silently, after the server is gone
  (*kept)(Response::text(200, "twice"));
  kept.reset();
}

TEST_F(HttpServerTest, DroppedResponderOrThrowingHandlerGives500) {
  router_->add("GET", "/drop", {}, [](Request&&, Responder) {});
  router_->add("GET", "/throw", {},
               [](Request&&, Responder) -> void { throw std::runtime_error("boom"); });
  start();
  EXPECT_EQ(curl({http("/drop")}).status, 500);
  EXPECT_EQ(curl({http("/throw")}).status, 500);
}

TEST_F(HttpServerTest, KeepAliveReusesTheConnection) {
  add_recorder("GET", "/");
  start();
  auto r = curl({http("/a"), http("/b"), http("/c")});
  EXPECT_EQ(r.status, 200);
  auto s = seen();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].remote, s[1].remote);
  EXPECT_EQ(s[1].remote, s[2].remote);
}

TEST_F(HttpServerTest, SlowHeaderIsDisconnected) {
  add_text("GET", "/", "ok");
  config::HttpConfig limits;
  limits.header_timeout_ms = 200;
  start(limits);
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // ...and never the blank line
  bool closed = false;
  auto out = c.read_all(&closed);
  EXPECT_TRUE(closed) << "the server kept a slowloris connection open";
  EXPECT_EQ(out.find("200"), std::string::npos);
}

TEST_F(HttpServerTest, SilentConnectionIsDisconnected) {
  config::HttpConfig limits;
  limits.header_timeout_ms = 200;
  start(limits);
  RawClient c(server_->port());
  bool closed = false;
  c.read_all(&closed);
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, SlowBodyIsDisconnected) {
  add_recorder("POST", "/");
  config::HttpConfig limits;
  limits.body_timeout_ms = 200;
  start(limits);
  RawClient c(server_->port());
  c.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nonly a little");
  bool closed = false;
  c.read_all(&closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(seen().empty());
}

TEST_F(HttpServerTest, IdleKeepAliveIsDisconnected) {
  add_text("GET", "/", "ok");
  config::HttpConfig limits;
  limits.idle_timeout_ms = 200;
  start(limits);
  RawClient c(server_->port());
  c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  auto first = c.read_response();
  EXPECT_TRUE(first.starts_with("HTTP/1.1 200")) << first;
  bool closed = false;
  c.read_all(&closed);
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, LocalRouteRefusesMembers) {
  add_text("GET", "/ui", "page", RouteOptions{.access = Access::local});
  start();
  auto args = as_member();
  args.push_back(https("/ui"));
  EXPECT_EQ(curl(args).status, 403);
  auto certless = curl({"-k", https("/ui")});
  EXPECT_EQ(certless.status, 200);
  EXPECT_EQ(certless.body, "page");
  EXPECT_EQ(curl({http("/ui")}).status, 200);
}

TEST_F(HttpServerTest, OpenRouteIsReachableWithoutCertificate) {
  add_recorder("POST", "/mesh/join", RouteOptions{.max_body = 100, .access = Access::open});
  add_text("GET", "/member", "m");
  add_text("GET", "/ui", "page", RouteOptions{.access = Access::local});
  config::HttpConfig limits;
  limits.trust_loopback = false;  // so loopback clients count as strangers
  start(limits);
  auto plain = curl({"--data", "hi", http("/mesh/join")});
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(plain.body, "size=2");
  auto certless = curl({"-k", "--data", "hey", https("/mesh/join/sub")});
  EXPECT_EQ(certless.status, 200);
  EXPECT_EQ(certless.body, "size=3");
  auto s = seen();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_FALSE(s[1].peer.has_value());
  EXPECT_TRUE(s[1].tls);
  // The open route's own limits still apply.
  EXPECT_EQ(curl({"--data", std::string(200, 'x'), http("/mesh/join")}).status, 413);
  // Everything else refuses a stranger with the same 403, whether the route exists or not.
  for (const auto& path : {"/member", "/ui", "/missing", "/mesh"}) {
    auto r = curl({http(path)});
    EXPECT_EQ(r.status, 403) << path;
    EXPECT_EQ(r.body, "a member certificate is required\n") << path;
  }
  EXPECT_EQ(curl({"-X", "GET", http("/mesh/join")}).status, 403);  // wrong method: no leak
  EXPECT_EQ(curl({"--path-as-is", http("/mesh/join/../x")}).status, 403);
  // Members still reach the open route, and a non-member certificate still fails TLS.
  auto args = as_member();
  args.insert(args.end(), {"--data", "m", https("/mesh/join")});
  EXPECT_EQ(curl(args).status, 200);
  auto stranger = curl({"-k", "--cert", (dir_ / "stranger.crt").string(), "--key",
                        (dir_ / "stranger.key").string(), "--data", "x", https("/mesh/join")});
  EXPECT_NE(stranger.exit, 0);
  EXPECT_EQ(stranger.status, 0);
}

TEST_F(HttpServerTest, LoopbackClientsNeedAHostNamingThisMachine) {
  add_recorder("GET", "/ui", RouteOptions{.access = Access::local});  // the web UI
  add_recorder("GET", "/plugin/thing");                               // a plugin's member route
  add_recorder("GET", "/");  // the git service's catch-all, as replication registers it
  start();
  const std::vector<std::string> paths = {"/ui", "/plugin/thing", "/app.git/info/refs"};
  for (const auto& path : paths) {
    // DNS rebinding: the page's own name reaches us in Host.
    auto evil = curl({"-H", "Host: evil.example", http(path)});
    EXPECT_EQ(evil.status, 421) << path;
    EXPECT_NE(evil.body.find("Host header must name this machine"), std::string::npos) << path;
    EXPECT_EQ(curl({"-k", "-H", "Host: evil.example:" + port(), https(path)}).status, 421) << path;
  }
  EXPECT_TRUE(seen().empty());
  // Every loopback name and any port will do.
  for (const char* host : {"localhost", "localhost:1", "127.0.0.1", "127.3.4.5:99", "[::1]:7979"}) {
    EXPECT_EQ(curl({"-H", std::string("Host: ") + host, http("/ui")}).status, 200) << host;
  }
  // A member's certificate is its authentication: Host does not matter.
  auto args = as_member();
  args.insert(args.end(), {"-H", "Host: evil.example", https("/plugin/thing")});
  EXPECT_EQ(curl(args).status, 200);
}

TEST_F(HttpServerTest, StateChangingRequestsFromLoopbackNeedNoOrSameOrigin) {
  add_recorder("POST", "/app.git/git-upload-pack");
  add_recorder("POST", "/plugin/thing");
  start();
  // git and curl send no Origin: allowed.
  EXPECT_EQ(curl({"--data", "0000", http("/app.git/git-upload-pack")}).status, 200);
  EXPECT_EQ(curl({"-H", "Origin: " + self_origin(), "--data", "x", http("/plugin/thing")}).status,
            200);
  // A page elsewhere posting here (cross-site form or fetch): refused before the handler.
  for (const std::string origin :
       {"http://evil.example", "null", "http://localhost:1", "https://127.0.0.1.evil.example"}) {
    for (const std::string path : {"/app.git/git-upload-pack", "/plugin/thing"}) {
      auto r = curl({"-H", "Origin: " + origin, "--data", "x", http(path)});
      EXPECT_EQ(r.status, 403) << origin << " " << path;
      EXPECT_NE(r.body.find("cross-origin"), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(seen().size(), 2u);
  // Reading with a foreign Origin is the browser's business (no CORS headers are sent).
  add_text("GET", "/plugin/page", "p");
  EXPECT_EQ(curl({"-H", "Origin: http://evil.example", http("/plugin/page")}).status, 200);
}

TEST_F(HttpServerTest, UiFormsNeedTheCsrfTokenAndASameOriginSource) {
  csrf_token_ = "t0ken-for-the-ui";
  add_recorder("POST", "/ui/issues/new", RouteOptions{.access = Access::local});
  router_->try_add_stream(
      "POST", "/ui/upload", RouteOptions{.access = Access::local},
      [this](Request&& req, std::shared_ptr<Exchange> ex) {
        std::lock_guard lock(mu_);
        seen_.push_back(req);
        // Exchange calls block: never on the I/O strand.
        helpers_.emplace_back([ex] {
          auto sent = ex->respond(Response::text(200, "streamed"));
          EXPECT_TRUE(sent) << sent.error().message;
        });
      },
      nullptr);
  add_text("GET", "/ui", "page", RouteOptions{.access = Access::local});
  start();
  const std::string origin = "Origin: " + self_origin();
  const std::string url = http("/ui/issues/new");
  // No token: refused, and the handler never runs.
  auto none = curl({"-H", origin, "--data", "title=x", url});
  EXPECT_EQ(none.status, 403);
  EXPECT_NE(none.body.find("CSRF"), std::string::npos) << none.body;
  EXPECT_EQ(curl({"-H", origin, "-H", "X-Mesh-Csrf: wrong", "--data", "title=x", url}).status, 403);
  EXPECT_EQ(curl({"-H", origin, "--data", "csrf=wrong&title=x", url}).status, 403);
  EXPECT_TRUE(seen().empty());
  // The token in the header or in the form, with a same-origin Origin (or Referer).
  EXPECT_EQ(
      curl({"-H", origin, "-H", "X-Mesh-Csrf: t0ken-for-the-ui", "--data", "title=x", url}).status,
      200);
  EXPECT_EQ(curl({"-H", origin, "--data", "title=x&csrf=t0ken-for-the-ui", url}).status, 200);
  EXPECT_EQ(
      curl({"-H", "Referer: " + self_origin() + "/ui", "--data", "csrf=t0ken-for-the-ui", url})
          .status,
      200);
  EXPECT_EQ(seen().size(), 3u);
  // The token without any same-origin Origin or Referer is not enough.
  EXPECT_EQ(curl({"-H", "X-Mesh-Csrf: t0ken-for-the-ui", "--data", "x", url}).status, 403);
  EXPECT_EQ(
      curl({"-H", "Referer: http://evil.example/", "--data", "csrf=t0ken-for-the-ui", url}).status,
      403);
  // Streamed UI routes take the header.
  EXPECT_EQ(curl({"-H", origin, "--data", "csrf=t0ken-for-the-ui", http("/ui/upload")}).status,
            403);
  EXPECT_EQ(
      curl({"-H", origin, "-H", "X-Mesh-Csrf: t0ken-for-the-ui", "--data", "x", http("/ui/upload")})
          .status,
      200);
  EXPECT_EQ(seen().size(), 4u);
  // Reading a page needs nothing.
  EXPECT_EQ(curl({http("/ui")}).status, 200);
}

TEST_F(HttpServerTest, UiFormsAreRefusedWithoutAConfiguredToken) {
  add_recorder("POST", "/ui/x", RouteOptions{.access = Access::local});
  start();
  EXPECT_EQ(curl({"-H", "Origin: " + self_origin(), "-H", "X-Mesh-Csrf: ", "--data",
                  "csrf=", http("/ui/x")})
                .status,
            403);
  EXPECT_TRUE(seen().empty());
}

TEST_F(HttpServerTest, MaxConnectionsIsEnforced) {
  add_text("GET", "/", "ok");
  config::HttpConfig limits;
  limits.max_connections = 1;
  start(limits);
  RawClient a(server_->port());
  a.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_TRUE(a.read_response().starts_with("HTTP/1.1 200"));  // a is in and kept alive
  RawClient b(server_->port());
  b.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  bool closed = false;
  auto out = b.read_all(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(out.find("200"), std::string::npos);
}

TEST_F(HttpServerTest, OneAddressGetsAFewHalfOpenSlotsAndOthersStillGetIn) {
  add_text("GET", "/", "ok");
  config::HttpConfig limits;
  limits.trust_loopback = false;  // so 127.0.0.x are strangers until they show a certificate
  capacity_.per_source_half_open = 4;
  capacity_.stranger_deadline = std::chrono::seconds(60);
  start(limits);
  std::vector<std::unique_ptr<RawClient>> flood;
  for (int i = 0; i < 12; ++i) {
    flood.push_back(std::make_unique<RawClient>(server_->port(), "127.0.0.2"));
    ASSERT_TRUE(flood.back()->connected());
  }
  // Beyond the four half-open slots of that address, connections are closed at once.
  for (int i = 4; i < 12; ++i) {
    bool closed = false;
    EXPECT_TRUE(flood[i]->read_all(&closed).empty());
    EXPECT_TRUE(closed) << i;
  }
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(flood[i]->closed_within(100)) << i;
  // Another address, a member, gets in while the flood holds its slots.
  auto args = as_member();
  args.insert(args.end(), {"--interface", "127.0.0.3", https("/")});
  auto member = curl(args);
  EXPECT_EQ(member.status, 200);
  EXPECT_EQ(member.body, "ok");
  // Once the flood's sockets close, its address gets its slots back.
  flood.clear();
  EXPECT_TRUE(eventually_true([&] {
    RawClient c(server_->port(), "127.0.0.2");
    return c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") &&
           c.read_response().starts_with("HTTP/1.1 403");  // a stranger: in, then refused
  }));
}

TEST_F(HttpServerTest, AStrangerGetsAShortDeadlineForItsFirstRequest) {
  add_text("GET", "/", "ok");
  config::HttpConfig limits;
  limits.trust_loopback = false;
  limits.header_timeout_ms = 120'000;  // longer than the client waits: only the deadline helps
  capacity_.stranger_deadline = std::chrono::milliseconds(300);
  start(limits);
  RawClient idle(server_->port(), "127.0.0.2");
  ASSERT_TRUE(idle.connected());
  bool closed = false;
  idle.read_all(&closed);
  EXPECT_TRUE(closed) << "an idle stranger kept its slot past the deadline";
  // A member is held to the usual header timeout once its handshake is done.
  auto args = as_member();
  args.push_back(https("/"));
  EXPECT_EQ(curl(args).status, 200);
}

TEST_F(HttpServerTest, StopClosesConnections) {
  add_text("GET", "/", "ok");
  start();
  RawClient a(server_->port());
  a.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_TRUE(a.read_response().starts_with("HTTP/1.1 200"));
  server_->stop();
  bool closed = false;
  a.read_all(&closed);
  EXPECT_TRUE(closed);
  RawClient b(server_->port());
  EXPECT_FALSE(b.connected() && b.send("GET / HTTP/1.1\r\n\r\n") && [&] {
    bool c = false;
    return b.read_all(&c).starts_with("HTTP/1.1 200");
  }());
}

TEST_F(HttpServerTest, ListensOnLocalhost) {
  add_text("GET", "/", "ok");
  start({}, "localhost");
  EXPECT_TRUE(server_->local_address().starts_with("127.0.0.1:")) << server_->local_address();
  EXPECT_EQ(curl({http("/")}).status, 200);
}

TEST_F(HttpServerTest, ListensOnAnyV4) {
  add_text("GET", "/", "ok");
  start({}, "0.0.0.0");
  EXPECT_TRUE(server_->local_address().starts_with("0.0.0.0:")) << server_->local_address();
  EXPECT_EQ(curl({http("/")}).status, 200);
}

TEST_F(HttpServerTest, ListensOnAnyV6) {
  if (!fs::exists("/proc/net/if_inet6")) GTEST_SKIP() << "no IPv6 on this machine";
  add_text("GET", "/", "ok");
  start({}, "::");
  EXPECT_TRUE(server_->local_address().starts_with("[::]:")) << server_->local_address();
  auto port = std::to_string(server_->port());
  auto v6 = curl({"-g", "http://[::1]:" + port + "/"});
  EXPECT_EQ(v6.status, 200);
}

TEST_F(HttpServerTest, PortInUseIsAClearError) {
  start();
  auto tls = server_id_.tls_material("server");
  ASSERT_TRUE(tls);
  ServerOptions opts;
  opts.listen = config::HostPort{"127.0.0.1", server_->port()};
  opts.tls = *tls;
  auto second = Server::start(io_, std::move(opts), router_);
  ASSERT_FALSE(second);
  EXPECT_NE(
      second.error().message.find("cannot listen on 127.0.0.1:" + std::to_string(server_->port())),
      std::string::npos)
      << second.error().message;
}

TEST(HttpServerStart, RefusesMissingTlsMaterial) {
  boost::asio::io_context io;
  ServerOptions opts;
  opts.listen = config::HostPort{"127.0.0.1", 0};
  auto s = Server::start(io, std::move(opts), std::make_shared<Router>());
  EXPECT_FALSE(s);
}

}  // namespace
