// Downloads over real TLS on 127.0.0.1: peer verification is on (a certificate the CA store
// does not vouch for is refused, and not retried), a configured CA file is honoured, and the
// name in the certificate must match the host.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "download.hpp"
#include "test_util.hpp"

namespace mesh::updater {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::TempDir;

// Answers every TLS connection with "hello", one at a time, until destroyed.
class TlsServer {
 public:
  TlsServer(const fs::path& cert, const fs::path& key) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (!ctx_ || SSL_CTX_use_certificate_file(ctx_, cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1) {
      throw std::runtime_error("TLS server: bad certificate");
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("TLS server: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~TlsServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void loop() {
    // OpenSSL writes with write(): a client that hung up after refusing the certificate (TLS
    // 1.3 finishes the server's handshake first) must give EPIPE here, not kill the process.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++connections_;
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) == 1) {
        char buf[4096];
        SSL_read(ssl, buf, sizeof buf);  // the request head fits one read here
        static constexpr char kResponse[] =
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
        SSL_write(ssl, kResponse, sizeof kResponse - 1);
        SSL_shutdown(ssl);
      }
      ERR_clear_error();
      SSL_free(ssl);
      ::close(c);
    }
  }

  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

class DownloadTls : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = test::run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                        (tmp_ / "key.pem").string(), "-out", (tmp_ / "cert.pem").string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    server_ = std::make_unique<TlsServer>(tmp_ / "cert.pem", tmp_ / "key.pem");
  }
  DownloadOptions opts() {
    DownloadOptions o;
    o.stall_timeout = 5000ms;
    o.retry_delay = 0ms;
    o.max_attempts = 3;
    return o;
  }
  std::string url(const std::string& host) {
    return "https://" + host + ":" + std::to_string(server_->port()) + "/releases/latest";
  }

  CurlGlobal curl_;
  TempDir tmp_;
  std::unique_ptr<TlsServer> server_;
};

TEST_F(DownloadTls, ACertificateTheSystemStoreDoesNotTrustIsRefusedOnce) {
  auto r = fetch_text(url("127.0.0.1"), opts());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network);
  EXPECT_NE(r.error().message.find("TLS"), std::string::npos) << r.error().message;
  EXPECT_EQ(server_->connections(), 1);  // a verification failure is not retried
}

TEST_F(DownloadTls, AConfiguredCaFileIsHonoured) {
  auto o = opts();
  o.ca_file = (tmp_ / "cert.pem").string();
  auto r = fetch_text(url("127.0.0.1"), o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "hello");
}

TEST_F(DownloadTls, TheCertificateMustNameTheHost) {
  auto o = opts();
  o.ca_file = (tmp_ / "cert.pem").string();
  auto r = fetch_text(url("localhost"), o);  // the certificate names 127.0.0.1 only
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network);
  EXPECT_NE(r.error().message.find("TLS"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace mesh::updater
