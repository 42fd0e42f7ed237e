// The SSE hub on a real http::Server (127.0.0.1:0), read by raw sockets and curl: frames,
// channel filtering, keep-alives, the stream cap (503), bad requests (400), loopback only, a
// client that stops reading (closed, nobody blocked) and shutdown (every stream ends).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "mesh/web/sse.hpp"
#include "web_test_server.hpp"

using namespace mesh;
using namespace mesh::web;
using mesh::test::curl;
using mesh::test::RawSocket;
using namespace std::chrono_literals;

namespace {

// Polls until pred() holds; the bound only turns a hang into a failure.
template <typename F>
bool eventually(F pred, std::chrono::milliseconds bound = 20s) {
  const auto end = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

class WebSse : public ::testing::Test {
 protected:
  void start(SseOptions options = {}, config::HttpConfig limits = {}) {
    hub = std::make_unique<SseHub>(options);
    ASSERT_NE(hub->register_route(*server.router), 0u);
    ASSERT_EQ(server.start(limits), "");
  }
  void TearDown() override {
    // The daemon's order: end the streams, stop the server, then join the threads.
    if (hub) hub->stop();
    server.stop();
    hub.reset();
  }
  // Opens a stream and waits until the hub counts it.
  std::unique_ptr<RawSocket> open(const std::string& query, std::size_t expect_open) {
    auto s = std::make_unique<RawSocket>(server.port());
    EXPECT_TRUE(s->connected());
    EXPECT_TRUE(s->send("GET /events?" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    EXPECT_TRUE(s->read_until("retry: 3000\n")) << s->received();
    EXPECT_TRUE(eventually([&] { return hub->open_streams() == expect_open; }));
    return s;
  }

  mesh::test::WebServer server;
  std::unique_ptr<SseHub> hub;
};

}  // namespace

TEST_F(WebSse, PublishReachesFollowersOfTheChannelOnly) {
  start();
  auto a = open("ch=node&ch=ci%2Fmy-app", 1);
  auto b = open("ch=other", 2);
  const std::string& head = a->received();
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos) << head;
  EXPECT_NE(head.find("Cache-Control: no-store"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Security-Policy: default-src 'none'"), std::string::npos);
  EXPECT_EQ(hub->followers("node"), 1u);
  EXPECT_EQ(hub->followers("ci/my-app"), 1u);
  EXPECT_EQ(hub->followers("other"), 1u);
  EXPECT_EQ(hub->followers("nobody"), 0u);

  auto n = hub->publish("ci/my-app", "job", "line one\nline two");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(a->read_until("event: job\ndata: line one\ndata: line two\n\n")) << a->received();
  EXPECT_EQ(*hub->publish("other", "marker", "m"), 1u);
  EXPECT_TRUE(b->read_until("event: marker\ndata: m\n\n"));
  EXPECT_EQ(b->received().find("line one"), std::string::npos) << "b does not follow ci/my-app";
  EXPECT_EQ(*hub->publish("nobody", "x", "y"), 0u);
}

TEST_F(WebSse, KeepAliveCommentsWhenIdle) {
  SseOptions options;
  options.keepalive = 100ms;
  start(options);
  auto s = open("ch=node", 1);
  EXPECT_TRUE(s->read_until(": keep-alive\n\n")) << s->received();
}

TEST_F(WebSse, BadRequestsGet400AndMembersGet403) {
  start();
  EXPECT_EQ(curl({server.http("/events")}).status, 400);
  EXPECT_EQ(curl({server.http("/events?ch=")}).status, 400);
  EXPECT_EQ(curl({server.http("/events?ch=Upper")}).status, 400);
  EXPECT_EQ(curl({server.http("/events?ch=a%20b")}).status, 400);
  EXPECT_EQ(curl({server.http("/events?ch=" + std::string(129, 'a'))}).status, 400);
  std::string many;
  for (int i = 0; i < 17; ++i) many += "ch=c" + std::to_string(i) + "&";
  EXPECT_EQ(curl({server.http("/events?" + many)}).status, 400);
  auto member = server.as_member();
  member.insert(member.end(), {"--max-time", "5", server.https("/events?ch=node")});
  EXPECT_EQ(curl(member).status, 403);
  EXPECT_EQ(hub->open_streams(), 0u);
}

TEST_F(WebSse, StreamsOverTheCapGet503) {
  SseOptions options;
  options.max_streams = 2;
  start(options);
  auto a = open("ch=node", 1);
  auto b = open("ch=node", 2);
  auto r = curl({"--max-time", "10", server.http("/events?ch=node")});
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("too many"), std::string::npos) << r.body;
  // A closed stream frees its place (noticed at its next write: a keep-alive or an event).
  a.reset();
  ASSERT_TRUE(eventually([&] {
    (void)hub->publish("node", "ping", "x");
    return hub->open_streams() == 1;
  }));
  auto c = open("ch=node", 2);
  EXPECT_EQ(*hub->publish("node", "again", "y"), 2u);
  EXPECT_TRUE(c->read_until("event: again\n"));
}

TEST_F(WebSse, AClientThatStopsReadingIsClosedAndBlocksNobody) {
  SseOptions options;
  options.queue_bytes = 256 * 1024;
  config::HttpConfig limits;
  limits.body_timeout_ms = 2000;  // a write to the stalled client gives up after that
  start(options, limits);
  auto slow = std::make_unique<RawSocket>(server.port());
  slow->shrink_receive_buffer();
  ASSERT_TRUE(slow->send("GET /events?ch=logs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return hub->open_streams() == 1; }));
  auto healthy = open("ch=logs", 2);
  // Far more than the slow client's socket buffers and queue hold; publish() never waits.
  const std::string chunk(60 * 1024, 'x');
  std::size_t to_slow_dropped = 0;
  for (int i = 0; i < 200; ++i) {
    auto n = hub->publish("logs", "chunk", chunk);
    ASSERT_TRUE(n);
    if (*n < 2) ++to_slow_dropped;
    // The healthy reader keeps up.
    ASSERT_TRUE(healthy->take_until("data: " + chunk + "\n\n")) << i;
  }
  EXPECT_GT(to_slow_dropped, 0u) << "the slow stream overflowed its queue";
  ASSERT_TRUE(eventually([&] { return hub->open_streams() == 1; }))
      << "the slow stream is closed, the healthy one stays";
  EXPECT_EQ(*hub->publish("logs", "after", "z"), 1u);
  EXPECT_TRUE(healthy->read_until("event: after\ndata: z\n\n"));
}

TEST_F(WebSse, StopEndsEveryStreamCleanlyAndRefusesNewOnes) {
  start();
  auto a = open("ch=node", 1);
  auto b = open("ch=x&ch=y", 2);
  hub->stop();
  for (auto* s : {a.get(), b.get()}) {
    EXPECT_TRUE(s->read_to_close()) << "the server closes the stream";
    EXPECT_NE(s->received().rfind("0\r\n\r\n"), std::string::npos) << "with the last chunk";
  }
  EXPECT_TRUE(eventually([&] { return hub->open_streams() == 0; }));
  EXPECT_EQ(*hub->publish("node", "late", "x"), 0u);
  EXPECT_EQ(curl({"--max-time", "10", server.http("/events?ch=node")}).status, 503);
}

TEST(WebSseFrame, LinesAndNames) {
  EXPECT_EQ(sse_frame("e", "a"), "event: e\ndata: a\n\n");
  EXPECT_EQ(sse_frame("e", ""), "event: e\ndata: \n\n");
  EXPECT_EQ(sse_frame("e", "a\r\nb\rc\nd"), "event: e\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(sse_frame("e", "a\n"), "event: e\ndata: a\n\n");
  EXPECT_EQ(sse_frame("e", "a\n\nb"), "event: e\ndata: a\ndata: \ndata: b\n\n");
  EXPECT_TRUE(valid_channel("node"));
  EXPECT_TRUE(valid_channel("ci/my-app.v2_x"));
  EXPECT_TRUE(valid_channel(std::string(128, 'a')));
  for (std::string bad : std::vector<std::string>{"", "Node", "-x", "/x", "a b", "a:b", "a\nb",
                                                  std::string(129, 'a')}) {
    EXPECT_FALSE(valid_channel(bad)) << bad;
  }
  SseHub hub;
  EXPECT_EQ(hub.publish("Bad", "e", "d").error().code, Errc::invalid);
  EXPECT_EQ(hub.publish("ok", "bad event", "d").error().code, Errc::invalid);
  EXPECT_EQ(hub.publish("ok", "e", std::string(64 * 1024 + 1, 'x')).error().code, Errc::invalid);
  EXPECT_EQ(hub.publish("ok", "e", std::string("a\0b", 3)).error().code, Errc::invalid);
  EXPECT_TRUE(hub.publish("ok", "e", std::string(64 * 1024, 'x')));
}
