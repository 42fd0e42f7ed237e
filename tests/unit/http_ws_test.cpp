// Peer links and outbound HTTPS against a real Server on 127.0.0.1:0. Assertions are on
// behaviour (messages, close reasons, errors); waits have a generous bound only so that a bug
// fails the test instead of hanging it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "mesh/http/server.hpp"
#include "mesh/http/websocket.hpp"
#include "mesh/identity/identity.hpp"

using namespace mesh;
using namespace mesh::http;
using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 30s;  // a hang bound, not a timing assertion

// Everything a link reported, with a way to wait for it.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> messages;
  std::vector<std::string> closes;

  WsConnection::OnMessage on_message() {
    return [this](std::string&& m) {
      std::lock_guard lock(mu);
      messages.push_back(std::move(m));
      cv.notify_all();
    };
  }
  WsConnection::OnClose on_close() {
    return [this](const std::string& reason) {
      std::lock_guard lock(mu);
      closes.push_back(reason);
      cv.notify_all();
    };
  }
  bool wait_messages(std::size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, kWait, [&] { return messages.size() >= n; });
  }
  bool wait_closed() {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, kWait, [&] { return !closes.empty(); });
  }
};

template <class T>
class Promise {
 public:
  std::function<void(T)> callback() {
    return [this](T v) {
      std::lock_guard lock(mu_);
      value_.emplace(std::move(v));
      cv_.notify_all();
    };
  }
  T get() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kWait, [&] { return value_.has_value(); })) {
      ADD_FAILURE() << "no answer";
      std::abort();
    }
    return std::move(*value_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

class HttpWsTest : public ::testing::Test {
 protected:
  HttpWsTest()
      : server_id_(identity::Identity::generate()),
        member_(identity::Identity::generate()),
        stranger_(identity::Identity::generate()),
        work_(io_.get_executor()) {
    members_.insert(member_.public_key());
    router_ = std::make_shared<Router>();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  ~HttpWsTest() override {
    {
      std::lock_guard lock(mu_);
      server_links_.clear();
    }
    if (server_) server_->stop();
    work_.reset();
    for (auto& t : threads_) t.join();
  }

  void start(bool trust_loopback = true, WsLimits ws_limits = {}) {
    auto tls = server_id_.tls_material("server");
    ASSERT_TRUE(tls);
    ServerOptions opts;
    opts.listen = config::HostPort{"127.0.0.1", 0};
    opts.limits.trust_loopback = trust_loopback;
    opts.ws_limits = ws_limits;
    opts.tls = *tls;
    opts.is_member = [this](const identity::PublicKey& k) {
      std::lock_guard lock(mu_);
      return members_.count(k) > 0;
    };
    auto s = Server::start(io_, std::move(opts), router_);
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
  }

  // A websocket route whose links are kept in server_links_; `start_reading` false makes a
  // peer that never reads.
  void add_link_route(std::string path, bool echo, bool start_reading = true) {
    router_->add_websocket(
        path, [this, echo, start_reading](const Request& req, std::shared_ptr<WsConnection> link) {
          EXPECT_TRUE(req.peer.has_value());
          EXPECT_EQ(link->peer(), member_.public_key());
          std::weak_ptr<WsConnection> weak = link;
          if (start_reading) {
            link->start(
                [this, weak, echo](std::string&& m) {
                  if (auto l = weak.lock(); l && echo) l->send("echo:" + m);
                  server_inbox_.on_message()(std::move(m));
                },
                server_inbox_.on_close());
          }
          std::lock_guard lock(mu_);
          server_links_.push_back(std::move(link));
        });
  }

  DialOptions dial_options(const identity::Identity& who, std::string path = "/mesh/link") {
    DialOptions o;
    o.host = "127.0.0.1";
    o.port = server_->port();
    o.tls = *who.tls_material("client");
    o.expected = server_id_.public_key();
    o.path = std::move(path);
    o.headers = {{"X-Mesh-Test", "1"}};
    return o;
  }

  Result<std::shared_ptr<WsConnection>> dial(DialOptions o) {
    Promise<Result<std::shared_ptr<WsConnection>>> p;
    dial_websocket(io_, std::move(o), p.callback());
    return p.get();
  }

  Result<Response> call(HttpsCall c) {
    Promise<Result<Response>> p;
    https_request(io_, std::move(c), p.callback());
    return p.get();
  }

  std::size_t server_link_count() {
    std::lock_guard lock(mu_);
    return server_links_.size();
  }

  boost::asio::io_context io_;
  identity::Identity server_id_;
  identity::Identity member_;
  identity::Identity stranger_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::set<identity::PublicKey> members_;
  std::shared_ptr<Router> router_;
  std::unique_ptr<Server> server_;
  std::vector<std::shared_ptr<WsConnection>> server_links_;
  // Links outlive a test body (they own themselves while open), so their callbacks' targets
  // live in the fixture, which stops the server and joins the I/O threads first.
  Inbox server_inbox_;
  Inbox client_inbox_;
  Inbox late_inbox_;
};

TEST_F(HttpWsTest, MemberExchangesMessagesBothWays) {
  add_link_route("/mesh/link", /*echo=*/true);
  start();
  auto link = dial(dial_options(member_));
  ASSERT_TRUE(link) << link.error().message;
  EXPECT_EQ((*link)->peer(), server_id_.public_key());
  EXPECT_TRUE((*link)->remote().starts_with("127.0.0.1:"));
  Inbox& client = client_inbox_;
  (*link)->start(client.on_message(), client.on_close());
  const std::string big(200 * 1024, 'b');
  EXPECT_TRUE((*link)->send("hello"));
  EXPECT_TRUE((*link)->send(big));
  std::string binary("\0\xff\x01", 3);
  EXPECT_TRUE((*link)->send(binary));
  ASSERT_TRUE(client.wait_messages(3));
  ASSERT_TRUE(server_inbox_.wait_messages(3));
  {
    std::lock_guard lock(client.mu);
    EXPECT_EQ(client.messages[0], "echo:hello");
    EXPECT_EQ(client.messages[1], "echo:" + big);
    EXPECT_EQ(client.messages[2], "echo:" + binary);
  }
  // The server side pushes on its own too.
  std::shared_ptr<WsConnection> server_link;
  {
    std::lock_guard lock(mu_);
    ASSERT_EQ(server_links_.size(), 1u);
    server_link = server_links_[0];
  }
  EXPECT_EQ(server_link->peer(), member_.public_key());
  EXPECT_TRUE(server_link->send("push"));
  ASSERT_TRUE(client.wait_messages(4));
  {
    std::lock_guard lock(client.mu);
    EXPECT_EQ(client.messages[3], "push");
    EXPECT_TRUE(client.closes.empty());
  }
  // Over the limit is refused locally, and the link stays usable.
  EXPECT_FALSE((*link)->send(std::string(kMaxWsMessage + 1, 'x')));
  EXPECT_TRUE((*link)->send("still"));
  ASSERT_TRUE(client.wait_messages(5));
}

TEST_F(HttpWsTest, OversizedMessageFromThePeerClosesTheLink) {
  add_link_route("/mesh/link", false);
  start();
  // Lets the dialled link send more than a receiver accepts.
  auto options = dial_options(member_);
  options.limits.max_send_message = 2 * kMaxWsMessage;
  auto link = dial(std::move(options));
  ASSERT_TRUE(link) << link.error().message;
  Inbox& client = client_inbox_;
  (*link)->start(client.on_message(), client.on_close());
  EXPECT_TRUE((*link)->send(std::string(kMaxWsMessage + 1, 'x')));
  ASSERT_TRUE(server_inbox_.wait_closed());
  ASSERT_TRUE(client.wait_closed());
  {
    std::lock_guard lock(server_inbox_.mu);
    EXPECT_TRUE(server_inbox_.messages.empty());
    EXPECT_NE(server_inbox_.closes[0].find("limit"), std::string::npos) << server_inbox_.closes[0];
  }
  EXPECT_FALSE((*link)->send("after"));
}

TEST_F(HttpWsTest, ServerLinksUseTheServersLimits) {
  add_link_route("/mesh/link", false);
  start(true, WsLimits{.max_send_message = 1000, .max_queue_bytes = kMaxWsQueueBytes});
  auto link = dial(dial_options(member_));
  ASSERT_TRUE(link) << link.error().message;
  (*link)->start(client_inbox_.on_message(), client_inbox_.on_close());
  std::shared_ptr<WsConnection> accepted;
  for (int i = 0; i < 200 && !accepted; ++i) {
    {
      std::lock_guard lock(mu_);
      if (!server_links_.empty()) accepted = server_links_.front();
    }
    if (!accepted) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(accepted);
  EXPECT_FALSE(accepted->send(std::string(1001, 'x')));  // over this server's limit
  EXPECT_TRUE(accepted->send(std::string(1000, 'y')));
  ASSERT_TRUE(client_inbox_.wait_messages(1));
  // The dialled side kept the default limit.
  EXPECT_TRUE((*link)->send(std::string(1001, 'z')));
}

TEST_F(HttpWsTest, NonMemberCertificateCannotDial) {
  add_link_route("/mesh/link", true);
  start();
  auto link = dial(dial_options(stranger_));
  ASSERT_FALSE(link);
  EXPECT_NE(link.error().message.find("TLS"), std::string::npos) << link.error().message;
  EXPECT_EQ(server_link_count(), 0u);
}

TEST_F(HttpWsTest, WrongExpectedKeyFails) {
  add_link_route("/mesh/link", true);
  start();
  auto opts = dial_options(member_);
  opts.expected = stranger_.public_key();
  auto link = dial(opts);
  ASSERT_FALSE(link);
  EXPECT_NE(link.error().message.find("TLS: server key is not the expected member"),
            std::string::npos)
      << link.error().message;
  EXPECT_EQ(server_link_count(), 0u);
}

TEST_F(HttpWsTest, UnknownPathIsRefusedWithItsStatus) {
  add_link_route("/mesh/link", true);
  start();
  auto link = dial(dial_options(member_, "/mesh/other"));
  ASSERT_FALSE(link);
  EXPECT_EQ(link.error().message, "websocket upgrade refused: 404");
}

TEST_F(HttpWsTest, ConnectionRefusedIsAClearError) {
  start();
  auto opts = dial_options(member_);
  server_->stop();
  // Nothing listens on the (now closed) port any more.
  auto link = dial(opts);
  ASSERT_FALSE(link);
  EXPECT_TRUE(link.error().message.starts_with("connect to 127.0.0.1:")) << link.error().message;
}

TEST_F(HttpWsTest, PlainUpgradeWithoutCertificateIs403) {
  add_link_route("/mesh/link", true);
  start();  // even a trusted loopback client is not a member
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string req =
      "GET /mesh/link HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, n);
  ::close(fd);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 403")) << out;
  EXPECT_NE(out.find("a member certificate is required"), std::string::npos);
  EXPECT_EQ(server_link_count(), 0u);
}

TEST_F(HttpWsTest, CloseIsReportedOnBothSidesOnce) {
  add_link_route("/mesh/link", true);
  start();
  auto link = dial(dial_options(member_));
  ASSERT_TRUE(link) << link.error().message;
  Inbox& client = client_inbox_;
  (*link)->start(client.on_message(), client.on_close());
  EXPECT_TRUE((*link)->send("one"));
  ASSERT_TRUE(client.wait_messages(1));
  (*link)->close();
  EXPECT_FALSE((*link)->send("after close"));
  (*link)->close();  // idempotent
  ASSERT_TRUE(client.wait_closed());
  ASSERT_TRUE(server_inbox_.wait_closed());
  // A second start() is ignored: the close was reported once, to the first callbacks.
  (*link)->start(late_inbox_.on_message(), late_inbox_.on_close());
  std::lock_guard lock(client.mu);
  EXPECT_EQ(client.closes.size(), 1u);
  EXPECT_EQ(client.closes[0], "closed locally");
  std::lock_guard lock2(server_inbox_.mu);
  EXPECT_EQ(server_inbox_.closes.size(), 1u);
  EXPECT_TRUE(server_inbox_.closes[0].starts_with("closed by peer")) << server_inbox_.closes[0];
}

TEST_F(HttpWsTest, LinkStaysOpenWhenTheHandlerDropsIt) {
  Inbox& server = late_inbox_;
  router_->add_websocket("/mesh/link", [&](const Request&, std::shared_ptr<WsConnection> link) {
    std::weak_ptr<WsConnection> weak = link;
    link->start(
        [weak, &server](std::string&& m) {
          if (auto l = weak.lock()) l->send("echo:" + m);
          server.on_message()(std::move(m));
        },
        server.on_close());
    // `link` goes out of scope here.
  });
  start();
  auto link = dial(dial_options(member_));
  ASSERT_TRUE(link) << link.error().message;
  Inbox& client = client_inbox_;
  (*link)->start(client.on_message(), client.on_close());
  EXPECT_TRUE((*link)->send("a"));
  EXPECT_TRUE((*link)->send("b"));
  ASSERT_TRUE(client.wait_messages(2));
  (*link)->close();
  ASSERT_TRUE(server.wait_closed());
}

TEST_F(HttpWsTest, QueueCapRefusesWhenThePeerNeverReads) {
  add_link_route("/mesh/link", false, /*start_reading=*/false);
  start();
  auto options = dial_options(member_);
  options.limits.max_queue_bytes = 1024 * 1024;
  auto link = dial(std::move(options));
  ASSERT_TRUE(link) << link.error().message;
  Inbox& client = client_inbox_;
  (*link)->start(client.on_message(), client.on_close());
  const std::string chunk(128 * 1024, 'q');
  bool refused = false;
  // Socket buffers absorb a few MiB at most; after that the queue fills and send() says no.
  for (int i = 0; i < 4000 && !refused; ++i) refused = !(*link)->send(chunk);
  EXPECT_TRUE(refused);
  EXPECT_LE((*link)->queued_bytes(), 1024u * 1024u);
  EXPECT_GT((*link)->queued_bytes(), 0u);
  // Closing our side refuses further sends at once, even with a write stuck behind a peer
  // that never reads (how the peer's side then goes away is timing-dependent, so it is not
  // asserted here; ServerStopClosesLinks covers teardown).
  (*link)->close();
  EXPECT_FALSE((*link)->send("x"));
  {
    std::lock_guard lock(mu_);
    server_links_.clear();
  }
}

TEST_F(HttpWsTest, ServerStopClosesLinks) {
  add_link_route("/mesh/link", true);
  start();
  auto link = dial(dial_options(member_));
  ASSERT_TRUE(link) << link.error().message;
  Inbox& client = client_inbox_;
  (*link)->start(client.on_message(), client.on_close());
  EXPECT_TRUE((*link)->send("x"));
  ASSERT_TRUE(client.wait_messages(1));
  server_->stop();
  ASSERT_TRUE(client.wait_closed());
  ASSERT_TRUE(server_inbox_.wait_closed());
  EXPECT_FALSE((*link)->send("y"));
}

TEST_F(HttpWsTest, HttpsRequestToAnOpenRouteWithoutCertificate) {
  router_->add("POST", "/mesh/join", RouteOptions{.access = Access::open},
               [](Request&& req, Responder respond) {
                 auto r = Response::json(200, "{\"got\":\"" + req.body + "\"}");
                 r.headers.emplace_back("X-Peer", req.peer ? "yes" : "no");
                 respond(std::move(r));
               });
  router_->add("GET", "/member", {},
               [](Request&&, Responder respond) { respond(Response::text(200, "m")); });
  start(/*trust_loopback=*/false);
  HttpsCall c;
  c.host = "127.0.0.1";
  c.port = server_->port();
  c.expected = server_id_.public_key();
  c.path = "/mesh/join";
  c.body = "hi";
  auto r = call(c);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "{\"got\":\"hi\"}");
  bool saw_peer_header = false;
  for (auto& [k, v] : r->headers) {
    if (k == "X-Peer") {
      saw_peer_header = true;
      EXPECT_EQ(v, "no");
    }
  }
  EXPECT_TRUE(saw_peer_header);

  // A member route refuses the certificate-less caller...
  auto member_route = c;
  member_route.method = "GET";
  member_route.path = "/member";
  member_route.body.clear();
  auto refused = call(member_route);
  ASSERT_TRUE(refused) << refused.error().message;
  EXPECT_EQ(refused->status, 403u);
  // ...but not a member.
  member_route.client_tls = *member_.tls_material("member");
  auto ok = call(member_route);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->status, 200u);
  EXPECT_EQ(ok->body, "m");

  // A response over the caller's limit is an error.
  auto small = c;
  small.max_response_bytes = 4;
  auto over = call(small);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Errc::limit);
}

TEST_F(HttpWsTest, HttpsRequestWithTheWrongKeyFails) {
  router_->add("POST", "/mesh/join", RouteOptions{.access = Access::open},
               [](Request&&, Responder respond) { respond(Response::text(200, "x")); });
  start(false);
  HttpsCall c;
  c.host = "127.0.0.1";
  c.port = server_->port();
  c.expected = stranger_.public_key();
  c.path = "/mesh/join";
  auto r = call(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("TLS: server key is not the expected member"), std::string::npos)
      << r.error().message;
}

TEST_F(HttpWsTest, HttpsRequestTimesOut) {
  // A listener that accepts (kernel backlog) but never speaks TLS.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  HttpsCall c;
  c.host = "127.0.0.1";
  c.port = ntohs(addr.sin_port);
  c.expected = server_id_.public_key();
  c.path = "/x";
  c.timeout = 200ms;
  auto r = call(c);
  ::close(fd);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos) << r.error().message;
}

}  // namespace
