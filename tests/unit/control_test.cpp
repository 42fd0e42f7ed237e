#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "mesh/control/control.hpp"

using namespace mesh;
using namespace mesh::control;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

int connect_raw(const fs::path& p) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, p.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mesh-ctl-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    sock_ = dir_ / "mesh.sock";
    registry_ = std::make_shared<Registry>();
    registry_->add({"echo", "echoes its args", "core"}, [](Call&& c, Responder r) {
      std::string out = c.verb;
      for (auto& a : c.args) out += " " + a;
      if (c.json) out += " (json)";
      r.reply({0, out});
    });
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    server_.reset();
    guard_.reset();
    thread_.join();
    fs::remove_all(dir_);
  }

  void start_server() {
    auto s = Server::start(io_, sock_, registry_);
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
  }

  static inline int counter_ = 0;
  fs::path dir_, sock_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{
      io_.get_executor()};
  std::thread thread_;
  std::shared_ptr<Registry> registry_;
  std::unique_ptr<Server> server_;
};

}  // namespace

TEST_F(ControlTest, CallsAVerbAndGetsItsReply) {
  start_server();
  auto r = call(sock_, {"echo", {"a b", "c\"d\n"}, true}, 5s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->output, "echo a b c\"d\n (json)");
}

TEST_F(ControlTest, SocketIsOwnerOnly) {
  start_server();
  struct stat st {};
  ASSERT_EQ(::lstat(sock_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary names left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(ControlTest, ChunksArriveInOrderBeforeTheReply) {
  registry_->add({"count", "", "core"}, [](Call&&, Responder r) {
    for (int i = 0; i < 200; ++i) r.chunk(std::to_string(i) + "\n");
    r.reply({0, "done"});
  });
  start_server();
  std::vector<std::string> chunks;
  auto r =
      call(sock_, {"count", {}, false}, 5s, [&](const std::string& c) { chunks.push_back(c); });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->output, "done");
  ASSERT_EQ(chunks.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(chunks[i], std::to_string(i) + "\n");
}

TEST_F(ControlTest, ReplyFromAnotherThreadLater) {
  std::vector<std::thread> workers;
  std::mutex mu;
  registry_->add({"slow", "", "core"}, [&](Call&& c, Responder r) {
    std::lock_guard lock(mu);
    workers.emplace_back([r, arg = c.args.at(0)] {
      std::this_thread::sleep_for(50ms);
      r.chunk("working on " + arg);
      std::this_thread::sleep_for(50ms);
      r.reply({1, "failed " + arg});
      r.reply({0, "second reply is ignored"});
      r.chunk("so is a chunk after the reply");
    });
  });
  start_server();
  // Several clients at once, each answered from its own thread.
  std::vector<std::future<bool>> results;
  for (int i = 0; i < 8; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      std::vector<std::string> chunks;
      auto r = call(sock_, {"slow", {std::to_string(i)}, false}, 5s,
                    [&](const std::string& c) { chunks.push_back(c); });
      return r && r->exit_code == 1 && r->output == "failed " + std::to_string(i) &&
             chunks == std::vector<std::string>{"working on " + std::to_string(i)};
    }));
  }
  for (auto& f : results) EXPECT_TRUE(f.get());
  for (auto& t : workers) t.join();
}

TEST_F(ControlTest, UnknownVerbIsAUsageError) {
  start_server();
  auto r = call(sock_, {"frobnicate", {}, false}, 5s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 2);
  EXPECT_EQ(r->output, "unknown command 'frobnicate' (see: mesh help)");
}

TEST_F(ControlTest, MalformedRequestIsAUsageError) {
  start_server();
  int fd = connect_raw(sock_);
  ASSERT_GE(fd, 0);
  std::string req = "{\"args\":[]}\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  auto reply = read_all(fd);
  ::close(fd);
  EXPECT_NE(reply.find("\"exit\":2"), std::string::npos) << reply;
}

TEST_F(ControlTest, OversizedRequestLineIsRefused) {
  start_server();
  int fd = connect_raw(sock_);
  ASSERT_GE(fd, 0);
  std::string big(kMaxLineBytes + 4096, 'x');
  std::size_t sent = 0;
  while (sent < big.size()) {
    ssize_t n = ::send(fd, big.data() + sent, big.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server stopped reading: expected
    sent += static_cast<std::size_t>(n);
  }
  auto reply = read_all(fd);
  ::close(fd);
  EXPECT_NE(reply.find("\"exit\":2"), std::string::npos) << reply.substr(0, 200);
  EXPECT_NE(reply.find("longer than"), std::string::npos) << reply.substr(0, 200);
  // The server still serves others.
  auto r = call(sock_, {"echo", {}, false}, 5s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->output, "echo");
}

TEST_F(ControlTest, ClientSideLimitOnTheRequest) {
  start_server();
  auto r = call(sock_, {"echo", {std::string(kMaxLineBytes, 'a')}, false}, 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit);
}

TEST_F(ControlTest, LargeOutputIsReassembled) {
  std::string big;
  for (int i = 0; big.size() < 3 * kMaxLineBytes; ++i) big += "line " + std::to_string(i) + "\n";
  big += std::string("\x01\x02\xff\xfe", 4);  // control bytes and invalid UTF-8 survive
  registry_->add({"big", "", "core"}, [&](Call&&, Responder r) {
    r.chunk(big);
    r.reply({0, big});
  });
  start_server();
  std::string streamed;
  auto r = call(sock_, {"big", {}, false}, 10s, [&](const std::string& c) { streamed += c; });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->output, big);
  EXPECT_EQ(streamed, big);
}

TEST_F(ControlTest, StaleSocketFileIsReplaced) {
  // A socket file left by a crashed daemon: bound once, nobody listening now.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  ASSERT_TRUE(fs::is_socket(sock_));
  start_server();
  auto r = call(sock_, {"echo", {"x"}, false}, 5s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->output, "echo x");
}

TEST_F(ControlTest, SecondServerOnALiveSocketFails) {
  start_server();
  auto second = Server::start(io_, sock_, registry_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::exists);
  EXPECT_NE(second.error().message.find("another daemon is listening on " + sock_.string()),
            std::string::npos)
      << second.error().message;
  // And the first one still works.
  EXPECT_TRUE(call(sock_, {"echo", {}, false}, 5s));
}

TEST_F(ControlTest, RegularFileInTheWayIsNotRemoved) {
  std::ofstream(sock_) << "not a socket";
  auto s = Server::start(io_, sock_, registry_);
  ASSERT_FALSE(s);
  EXPECT_TRUE(fs::is_regular_file(sock_));
}

TEST_F(ControlTest, MissingSocketIsNotFound) {
  auto r = call(sock_, {"echo", {}, false}, 1s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::not_found);
}

TEST_F(ControlTest, StopRemovesTheSocket) {
  start_server();
  server_->stop();
  EXPECT_FALSE(fs::exists(sock_));
  auto r = call(sock_, {"echo", {}, false}, 1s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::not_found);
  server_->stop();  // idempotent
}

TEST_F(ControlTest, ResponderAfterTheClientLeftIsHarmless) {
  std::promise<Responder> kept;
  registry_->add({"hang", "", "core"}, [&](Call&&, Responder r) { kept.set_value(r); });
  start_server();
  auto r = call(sock_, {"hang", {}, false}, 200ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::io);
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos);
  auto responder = kept.get_future().get();
  // The server notices the hang-up.
  for (int i = 0; i < 100 && responder.connected(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(responder.connected());
  responder.chunk("nobody listens");
  responder.reply({0, "too late"});
  // Even after the server is gone.
  server_.reset();
  std::this_thread::sleep_for(20ms);
  responder.chunk("still nobody");
  responder.reply({0, "still too late"});
  EXPECT_FALSE(responder.connected());
}

TEST_F(ControlTest, SilentClientTimesOutWithoutBlockingOthers) {
  start_server();
  int fd = connect_raw(sock_);  // connects and never sends a line
  ASSERT_GE(fd, 0);
  auto r = call(sock_, {"echo", {}, false}, 5s);
  EXPECT_TRUE(r);
  ::close(fd);
}

TEST(Registry, AddRemoveList) {
  Registry reg;
  auto noop = [](Call&&, Responder r) { r.reply({}); };
  EXPECT_TRUE(reg.add({"status", "", "core"}, noop));
  EXPECT_FALSE(reg.add({"status", "", "ci"}, noop));
  EXPECT_TRUE(reg.add({"ci", "", "ci"}, noop));
  EXPECT_TRUE(reg.add({"issues", "", "issues"}, noop));
  EXPECT_TRUE(reg.add({"runs", "", "ci"}, noop));
  reg.remove_owner("ci");
  auto list = reg.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].verb, "issues");
  EXPECT_EQ(list[1].verb, "status");
  EXPECT_EQ(list[1].owner, "core");
  reg.remove("issues");
  EXPECT_EQ(reg.list().size(), 1u);
}

TEST(Registry, DispatchUnknownAndThrowing) {
  Registry reg;
  reg.add({"boom", "", "core"}, [](Call&&, Responder) { throw std::runtime_error("bad"); });
  Reply got;
  Responder r{{}, [&](Reply x) { got = std::move(x); }};
  reg.dispatch({"nope", {}, false}, r);
  EXPECT_EQ(got.exit_code, 2);
  EXPECT_EQ(got.output, "unknown command 'nope' (see: mesh help)");
  reg.dispatch({"boom", {}, false}, r);
  EXPECT_EQ(got.exit_code, 1);
  EXPECT_NE(got.output.find("bad"), std::string::npos);
}
