// The HTTP client `mesh update --from` speaks over a member connection (peer_http.hpp), against
// scripted responses delivered in pieces of every size.
#include <gtest/gtest.h>

#include "peer_http.hpp"

namespace mesh::updater {
namespace {

// Hands out `response` `step` bytes per read, then end of stream (or an error).
class Scripted final : public ByteStream {
 public:
  Scripted(std::string response, std::size_t step, bool fail_at_end = false)
      : response_(std::move(response)), step_(step), fail_(fail_at_end) {}
  long read(char* buf, std::size_t cap) override {
    if (at_ >= response_.size()) return fail_ ? -1 : 0;
    std::size_t n = std::min({cap, step_, response_.size() - at_});
    response_.copy(buf, n, at_);
    at_ += n;
    return static_cast<long>(n);
  }
  bool write(std::string_view data) override {
    sent += data;
    return true;
  }
  std::string sent;

 private:
  std::string response_;
  std::size_t step_;
  bool fail_;
  std::size_t at_ = 0;
};

struct Got {
  Result<HttpHead> head = make_error(Errc::invalid, "not run");
  std::string body;
};

Got get(Scripted& s, std::uint64_t max = 1 << 20, std::optional<std::uint64_t> range = {}) {
  Got g;
  g.head = http_get(s, "/updater/v1/files/x", range, max, {}, [&](std::string_view piece) {
    g.body.append(piece);
    return true;
  });
  return g;
}

const std::string kChunked =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n"
    "\r\n5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n";

TEST(PeerHttp, BodiesInEveryFramingAndEveryPieceSize) {
  for (std::size_t step : {1u, 2u, 3u, 7u, 64u, 100000u}) {
    SCOPED_TRACE(step);
    Scripted chunked(kChunked, step);
    auto g = get(chunked);
    ASSERT_TRUE(g.head) << g.head.error().message;
    EXPECT_EQ(g.head->status, 200);
    EXPECT_EQ(g.head->header("content-type"), "application/octet-stream");
    EXPECT_EQ(g.body, "hello world");

    Scripted length(
        "HTTP/1.1 206 Partial Content\r\ncontent-length: 4\r\n"
        "Content-Range: bytes 6-9/10\r\n\r\nabcdEXTRA",
        step);
    g = get(length);
    ASSERT_TRUE(g.head);
    EXPECT_EQ(g.head->status, 206);
    EXPECT_EQ(g.body, "abcd");  // nothing past Content-Length

    Scripted closed("HTTP/1.0 200 OK\r\n\r\nuntil the end", step);
    g = get(closed);
    ASSERT_TRUE(g.head);
    EXPECT_EQ(g.body, "until the end");
  }
}

TEST(PeerHttp, TheRequestAsksForOneRangeAndClosesTheConnection) {
  Scripted s("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 100);
  auto g = get(s, 10, 12345);
  ASSERT_TRUE(g.head);
  EXPECT_EQ(s.sent.rfind("GET /updater/v1/files/x HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(s.sent.find("\r\nRange: bytes=12345-\r\n"), std::string::npos);
  EXPECT_NE(s.sent.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(s.sent.substr(s.sent.size() - 4), "\r\n\r\n");
  Scripted bad("", 1);
  EXPECT_EQ(http_get(bad, "/a b", {}, 1, {}, {}).error().code, Errc::invalid);
  EXPECT_EQ(http_get(bad, "relative", {}, 1, {}, {}).error().code, Errc::invalid);
}

TEST(PeerHttp, LimitsAndBrokenResponsesAreErrors) {
  auto code = [](const std::string& response, std::uint64_t max = 1 << 20, bool fail = false) {
    Scripted s(response, 5, fail);
    auto g = get(s, max);
    return g.head ? std::string("ok") : std::string(errc_name(g.head.error().code));
  };
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", 10), "too_large");
  EXPECT_EQ(code(kChunked, 10), "too_large");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\n\r\n" + std::string(11, 'x'), 10), "too_large");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nshort"), "network");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nshort", 1 << 20, true), "network");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"), "network");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), "invalid");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY\r\n"), "invalid");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), "invalid");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"), "invalid");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), "invalid");
  EXPECT_EQ(code("SSH-2.0-OpenSSH\r\n\r\n"), "invalid");
  EXPECT_EQ(code("HTTP/1.1 2000 OK\r\n\r\n"), "invalid");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"), "invalid");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\n" + std::string(kMaxResponseHead, 'a')), "too_large");
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (std::size_t i = 0; i <= kMaxResponseHeaders; ++i)
    many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(code(many + "\r\n"), "too_large");
  EXPECT_EQ(code("HTTP/1.1 200 OK\r\nContent-Le"), "network");
}

TEST(PeerHttp, TheCallerMayRefuseTheHeadOrStopTheBody) {
  Scripted s("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n", 4);
  std::string body;
  auto g = http_get(
      s, "/x", {}, 100,
      [](const HttpHead& h) -> Status {
        if (h.status != 200) return make_error(Errc::not_found, "not there");
        return {};
      },
      [&](std::string_view p) {
        body.append(p);
        return true;
      });
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, Errc::not_found);
  EXPECT_TRUE(body.empty());
  Scripted t(kChunked, 3);
  auto stopped = http_get(t, "/x", {}, 100, {}, [](std::string_view) { return false; });
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, Errc::cancelled);
}

}  // namespace
}  // namespace mesh::updater
