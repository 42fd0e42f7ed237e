// Downloads against a real HTTP server on 127.0.0.1:0 (test_http_server): size limits, a
// server that never answers, a connection dropped mid-body and resumed with Range, redirects
// checked against the URL policy, and errors that say what happened.
#include "download.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "test_http_server.hpp"
#include "test_util.hpp"

namespace mesh::updater {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::HttpRequest;
using test::TempDir;
using test::TestHttpServer;

class Download : public ::testing::Test {
 protected:
  DownloadOptions fast() {
    DownloadOptions o;
    o.connect_timeout = 5000ms;
    // Generous, so that a busy machine never turns a healthy transfer into a retry; the
    // stall tests set their own short one.
    o.stall_timeout = 5000ms;
    o.attempt_timeout = 60000ms;
    o.retry_delay = 0ms;
    o.max_attempts = 3;
    return o;
  }
  CurlGlobal curl_;
  TempDir tmp_;
};

TEST_F(Download, AFileArrivesWhole) {
  std::string content = test::random_bytes(1 << 20);
  TestHttpServer server([&](int fd, const HttpRequest& r) { test::serve_content(fd, r, content); });
  auto opts = fast();
  std::uint64_t last_progress = 0;
  opts.progress = [&](std::uint64_t done, std::optional<std::uint64_t>) { last_progress = done; };
  auto r = download_file(server.url("/a.tar.gz"), tmp_ / "a.tar.gz", opts);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->bytes, content.size());
  EXPECT_EQ(r->attempts, 1);
  EXPECT_FALSE(r->resumed);
  EXPECT_EQ(test::read_file(tmp_ / "a.tar.gz"), content);
  EXPECT_FALSE(fs::exists(tmp_ / "a.tar.gz.part"));
  EXPECT_LE(last_progress, content.size());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].headers.count("range"), 0u);
  EXPECT_NE(reqs[0].headers["user-agent"].find("mesh-updater"), std::string::npos);
}

TEST_F(Download, ADroppedConnectionIsResumedWithRange) {
  std::string content = test::random_bytes(600 * 1024);
  std::atomic<int> calls{0};
  TestHttpServer server([&](int fd, const HttpRequest& r) {
    // The first response is cut after 200 KiB of its body.
    test::serve_content(fd, r, content, "\"v1\"", calls++ == 0 ? 200 * 1024 : -1);
  });
  auto opts = fast();
  opts.expected_size = content.size();
  auto r = download_file(server.url("/a.tar.gz"), tmp_ / "a.tar.gz", opts);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::read_file(tmp_ / "a.tar.gz"), content);
  EXPECT_TRUE(r->resumed);
  EXPECT_EQ(r->attempts, 2);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].headers["range"], "bytes=204800-");
  EXPECT_EQ(reqs[1].headers["if-range"], "\"v1\"");  // never stitch two different files
}

TEST_F(Download, AFileChangedBetweenAttemptsStartsOver) {
  std::string first = test::random_bytes(300 * 1024);
  std::string second = test::random_bytes(300 * 1024);
  std::atomic<int> calls{0};
  TestHttpServer server([&](int fd, const HttpRequest& r) {
    if (calls++ == 0) {
      test::serve_content(fd, r, first, "\"v1\"", 100 * 1024);
    } else {
      test::serve_content(fd, r, second, "\"v2\"");  // If-Range "v1" no longer matches: 200
    }
  });
  auto opts = fast();
  opts.expected_size = second.size();
  auto r = download_file(server.url("/a"), tmp_ / "a", opts);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::read_file(tmp_ / "a"), second);
}

TEST_F(Download, AServerThatClosesEarlyWithoutALengthIsResumedWhenTheSizeIsKnown) {
  std::string content = test::random_bytes(100 * 1024);
  std::atomic<int> calls{0};
  TestHttpServer server([&](int fd, const HttpRequest& r) {
    if (calls++ == 0) {
      // HTTP/1.0 style: no Content-Length, the body ends when the connection does.
      test::send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nETag: \"v1\"\r\n\r\n");
      test::send_all(fd, std::string_view(content).substr(0, 30000));
      return;
    }
    test::serve_content(fd, r, content);
  });
  auto opts = fast();
  opts.expected_size = content.size();
  auto r = download_file(server.url("/a"), tmp_ / "a", opts);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::read_file(tmp_ / "a"), content);
  EXPECT_EQ(server.requests().at(1).headers["range"], "bytes=30000-");
}

TEST_F(Download, TheSizeLimitHoldsWithAndWithoutContentLength) {
  std::string content = test::random_bytes(200 * 1024);
  TestHttpServer server([&](int fd, const HttpRequest& r) {
    if (r.path == "/chunked") {
      // No length announced: the limit is enforced on the bytes as they arrive.
      test::send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
      test::send_all(fd, content);
      return;
    }
    test::serve_content(fd, r, content);
  });
  auto opts = fast();
  opts.max_bytes = 100 * 1024;
  for (const char* path : {"/announced", "/chunked"}) {
    auto r = download_file(server.url(path), tmp_ / "a", opts);
    ASSERT_FALSE(r) << path;
    EXPECT_EQ(r.error().code, Errc::too_large) << path << ": " << r.error().message;
    EXPECT_FALSE(fs::exists(tmp_ / "a"));
    EXPECT_FALSE(fs::exists(tmp_ / "a.part"));
  }
  // Not retried: a limit is not a transient failure.
  EXPECT_EQ(server.requests().size(), 2u);
  // More than the metadata promised.
  auto o2 = fast();
  o2.expected_size = content.size() - 1;
  auto r = download_file(server.url("/announced"), tmp_ / "a", o2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::mismatch);
  // An expected size over the limit is refused before connecting.
  auto o3 = fast();
  o3.max_bytes = 10;
  o3.expected_size = 11;
  std::size_t before = server.requests().size();
  EXPECT_EQ(download_file(server.url("/announced"), tmp_ / "a", o3).error().code, Errc::too_large);
  EXPECT_EQ(server.requests().size(), before);
}

TEST_F(Download, AServerThatNeverAnswersTimesOut) {
  TestHttpServer* self = nullptr;
  TestHttpServer server([&](int, const HttpRequest&) { self->hold_until_stopped(); });
  self = &server;
  auto opts = fast();
  opts.stall_timeout = 1000ms;
  opts.max_attempts = 2;
  auto r = download_file(server.url("/a"), tmp_ / "a", opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::timeout) << r.error().message;
  EXPECT_NE(r.error().message.find("2 attempts"), std::string::npos) << r.error().message;
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_FALSE(fs::exists(tmp_ / "a.part"));
}

TEST_F(Download, AServerThatStallsMidBodyTimesOutAndIsResumed) {
  std::string content = test::random_bytes(64 * 1024);
  std::atomic<int> calls{0};
  TestHttpServer* self = nullptr;
  TestHttpServer server([&](int fd, const HttpRequest& r) {
    if (calls++ == 0) {
      std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(content.size()) +
                         "\r\nETag: \"v1\"\r\n\r\n";
      test::send_all(fd, head);
      test::send_all(fd, std::string_view(content).substr(0, 1000));
      self->hold_until_stopped();
      return;
    }
    test::serve_content(fd, r, content);
  });
  self = &server;
  auto opts = fast();
  opts.stall_timeout = 1000ms;
  auto r = download_file(server.url("/a"), tmp_ / "a", opts);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::read_file(tmp_ / "a"), content);
  EXPECT_EQ(server.requests().at(1).headers["range"], "bytes=1000-");
}

TEST_F(Download, NothingListeningIsANetworkError) {
  std::uint16_t port;
  {
    TestHttpServer gone([](int, const HttpRequest&) {});
    port = gone.port();
  }
  auto opts = fast();
  opts.max_attempts = 1;
  auto r = fetch_text("http://127.0.0.1:" + std::to_string(port) + "/x", opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network) << r.error().message;
}

TEST_F(Download, HttpErrorsAreReportedAndOnlyTransientOnesRetried) {
  std::atomic<int> calls{0};
  TestHttpServer server([&](int fd, const HttpRequest& r) {
    if (r.path == "/missing") return test::respond(fd, 404, "no");
    if (r.path == "/flaky" && calls++ == 0) return test::respond(fd, 500, "oops");
    test::serve_content(fd, r, "hello");
  });
  auto opts = fast();
  auto missing = fetch_text(server.url("/missing"), opts);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_NE(missing.error().message.find("404"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 1u);
  DownloadResult info;
  auto flaky = fetch_text(server.url("/flaky"), opts, &info);
  ASSERT_TRUE(flaky) << flaky.error().message;
  EXPECT_EQ(*flaky, "hello");
  EXPECT_EQ(info.attempts, 2);
}

TEST_F(Download, RedirectsAreFollowedOnlyWherePolicyAllows) {
  TestHttpServer server([&](int fd, const HttpRequest& r) {
    if (r.path == "/latest") return test::respond(fd, 302, "", {{"Location", "/v2/file"}});
    if (r.path == "/away") {
      return test::respond(fd, 302, "", {{"Location", "http://example.com/file"}});
    }
    if (r.path == "/loop") return test::respond(fd, 302, "", {{"Location", "/loop"}});
    test::serve_content(fd, r, "payload at " + r.path);
  });
  DownloadResult info;
  auto ok = fetch_text(server.url("/latest"), fast(), &info);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, "payload at /v2/file");
  EXPECT_EQ(info.effective_url, server.url("/v2/file"));
  auto away = fetch_text(server.url("/away"), fast());
  ASSERT_FALSE(away);
  EXPECT_EQ(away.error().code, Errc::invalid);
  EXPECT_NE(away.error().message.find("redirect refused"), std::string::npos);
  auto loop = fetch_text(server.url("/loop"), fast());
  ASSERT_FALSE(loop);
  EXPECT_NE(loop.error().message.find("too many redirects"), std::string::npos);
}

TEST_F(Download, CancelStopsTheTransfer) {
  std::atomic<bool> cancel{false};
  TestHttpServer* self = nullptr;
  TestHttpServer server([&](int fd, const HttpRequest&) {
    test::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nabc");
    cancel = true;  // the client is now waiting for the rest
    self->hold_until_stopped();
  });
  self = &server;
  auto opts = fast();
  opts.stall_timeout = 60000ms;  // only the cancel can end it
  opts.cancel = &cancel;
  auto r = download_file(server.url("/a"), tmp_ / "a", opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::cancelled);
  EXPECT_FALSE(fs::exists(tmp_ / "a.part"));
}

TEST_F(Download, PlainHttpToTheNetworkIsRefusedBeforeConnecting) {
  auto r = fetch_text("http://example.com/releases/latest", fast());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid);
  EXPECT_NE(r.error().message.find("https"), std::string::npos);
}

}  // namespace
}  // namespace mesh::updater
