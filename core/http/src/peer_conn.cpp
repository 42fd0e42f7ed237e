// Blocking TLS 1.3 client for plugins (see peer_conn.hpp). The socket is non-blocking and every
// wait is a poll() with the operation's deadline, so a dead peer costs at most the timeout and
// close() from another thread wakes a blocked reader or writer at once. SSL_* calls are
// serialised by a mutex that is never held while waiting, which lets one thread read while
// another writes. Our own BIO sends with MSG_NOSIGNAL: the daemon does not ignore SIGPIPE.
#include "mesh/http/peer_conn.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <vector>

namespace mesh::http {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Polls in slices, so that a thread waiting for the "wrong" direction (a write that needs a
// read, or the other way round while another thread consumed the data) retries its SSL call.
constexpr milliseconds kPollSlice{250};

// OpenSSL asks our BIO through BIO_CTRL_EOF to tell an EOF from an error.
using SockState = detail::PeerSocket;

int bio_write_ex(BIO* b, const char* data, size_t len, size_t* written) {
  auto* s = static_cast<SockState*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  for (;;) {
    ssize_t n = ::send(s->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0) {
      *written = static_cast<size_t>(n);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
    return 0;
  }
}

int bio_read_ex(BIO* b, char* data, size_t len, size_t* got) {
  auto* s = static_cast<SockState*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  for (;;) {
    ssize_t n = ::recv(s->fd, data, len, 0);
    if (n > 0) {
      *got = static_cast<size_t>(n);
      return 1;
    }
    if (n == 0) {
      s->eof = true;
      *got = 0;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
    return 0;
  }
}

long bio_ctrl(BIO* b, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return static_cast<SockState*>(BIO_get_data(b))->eof ? 1 : 0;
    default:
      return 0;
  }
}

const BIO_METHOD* sock_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mesh peer socket");
    if (m) {
      BIO_meth_set_write_ex(m, bio_write_ex);
      BIO_meth_set_read_ex(m, bio_read_ex);
      BIO_meth_set_ctrl(m, bio_ctrl);
    }
    return m;
  }();
  return method;
}

std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// The Ed25519 key of a certificate, or nothing (another key type, a broken certificate).
std::optional<identity::PublicKey> cert_key(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0 || len > 64 * 1024) return std::nullopt;
  std::vector<std::uint8_t> der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (i2d_X509(cert, &p) != len) return std::nullopt;
  auto key = identity::key_from_cert_der(der);
  if (!key) return std::nullopt;
  return *key;
}

// Handed to the verify callback through SSL app data for the duration of the handshake.
struct VerifyState {
  const MemberCheck* is_member = nullptr;
  std::optional<identity::PublicKey> expected;
  std::string refused;  // why the server's certificate was refused
};

// There is no CA: chain errors (self-signed) are irrelevant; the leaf's key decides, and the
// handshake itself proves possession of it.
int verify_cb(int, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* st = ssl ? static_cast<VerifyState*>(SSL_get_app_data(ssl)) : nullptr;
  if (!st) return 0;
  if (X509_STORE_CTX_get_error_depth(store) > 0) return 1;
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  auto key = cert ? cert_key(cert) : std::nullopt;
  if (!key) {
    st->refused = "the server's certificate has no Ed25519 key";
    return 0;
  }
  if (st->expected && *key != *st->expected) {
    st->refused = "the server is " + key->short_id() + ", not the expected member " +
                  st->expected->short_id();
    return 0;
  }
  if (!*st->is_member || !(*st->is_member)(*key)) {
    st->refused = "the server's key " + key->short_id() + " is not a member";
    return 0;
  }
  return 1;
}

std::string format_addr(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  auto* in = reinterpret_cast<const sockaddr_in*>(sa);
  ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
}

int poll_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min(left, kPollSlice).count()) + 1;
}

// Non-blocking connect to one address within the deadline. Returns the socket or -1 and why.
int connect_one(const addrinfo* ai, Clock::time_point deadline, const std::atomic<bool>* cancel,
                std::string* why) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    *why = std::strerror(errno);
    return -1;
  }
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      *why = std::strerror(errno);
      ::close(fd);
      return -1;
    }
    for (;;) {
      if (Clock::now() >= deadline || (cancel && cancel->load())) {
        *why = Clock::now() >= deadline ? "timed out" : "cancelled";
        ::close(fd);
        return -1;
      }
      pollfd p{fd, POLLOUT, 0};
      int r = ::poll(&p, 1, poll_ms(deadline));
      if (r < 0 && errno != EINTR) {
        *why = std::strerror(errno);
        ::close(fd);
        return -1;
      }
      if (r > 0) break;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      *why = std::strerror(err);
      ::close(fd);
      return -1;
    }
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

Result<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view text) {
  auto bad = [&] {
    return make_error(Errc::invalid,
                      "'" + std::string(text.substr(0, 300)) + "' is not host:port or [v6]:port");
  };
  std::string_view host, port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad();
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad();
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad();  // a bare IPv6 address
  }
  if (host.empty() || host.size() > 253 || port.empty() || port.size() > 5) return bad();
  for (char c : host)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '/') return bad();
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
    return bad();
  return std::make_pair(std::string(host), static_cast<std::uint16_t>(value));
}

// ---- PeerConnector ----

Result<std::shared_ptr<PeerConnector>> PeerConnector::create(const identity::TlsMaterial& tls,
                                                             MemberCheck is_member) {
  if (tls.cert_pem.empty() || tls.key_pem.empty())
    return make_error(Errc::invalid, "peer connections need this node's certificate and key");
  if (!sock_method()) return make_error(Errc::internal, "cannot make an OpenSSL BIO method");
  std::shared_ptr<PeerConnector> c(new PeerConnector);
  c->is_member_ = std::move(is_member);
  ERR_clear_error();
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  if (!c->ctx_) return make_error(Errc::crypto, "cannot make a TLS context: " + ssl_errors());
  SSL_CTX* ctx = c->ctx_;
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
    return make_error(Errc::crypto, "cannot restrict TLS to version 1.3");
  // The server's Ed25519 (member) certificate, never the P-256 one it offers local clients.
  if (SSL_CTX_set1_sigalgs_list(ctx, "ed25519") != 1)
    return make_error(Errc::crypto, "cannot restrict TLS signatures to Ed25519");
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // An EOF without close_notify reads as the end of the stream: plugins frame their own data.
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
      BIO_new_mem_buf(tls.cert_pem.data(), static_cast<int>(tls.cert_pem.size())), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr) : nullptr,
      &X509_free);
  if (!cert || SSL_CTX_use_certificate(ctx, cert.get()) != 1)
    return make_error(Errc::crypto, "bad TLS certificate: " + ssl_errors());
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(tls.key_pem.data(), static_cast<int>(tls.key_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr,
      &EVP_PKEY_free);
  if (!key || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1)
    return make_error(Errc::crypto, "bad TLS private key: " + ssl_errors());
  if (SSL_CTX_check_private_key(ctx) != 1)
    return make_error(Errc::crypto, "the TLS private key does not match the certificate");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
  return c;
}

PeerConnector::~PeerConnector() {
  if (ctx_) SSL_CTX_free(ctx_);
}

Result<std::shared_ptr<PeerConn>> PeerConnector::connect(
    std::string_view host_port, std::optional<identity::PublicKey> expected,
    std::chrono::milliseconds timeout, const std::atomic<bool>* cancel) const {
  auto hp = split_host_port(host_port);
  if (!hp) return hp.error();
  if (timeout.count() <= 0) timeout = milliseconds(30'000);
  const auto deadline = Clock::now() + timeout;
  const std::string where(host_port);
  auto timed_out = [&] {
    return make_error(Errc::io, "connect to " + where + ": timed out after " +
                                    std::to_string(timeout.count()) + " ms");
  };

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(hp->second);
  if (int rc = ::getaddrinfo(hp->first.c_str(), port.c_str(), &hints, &res); rc != 0 || !res) {
    return make_error(Errc::io, "connect to " + where + ": cannot resolve: " +
                                    (rc ? ::gai_strerror(rc) : "no address"));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addrs(res, &::freeaddrinfo);

  std::shared_ptr<PeerConn> conn(new PeerConn);
  conn->timeout_ = timeout;
  conn->where_ = where;
  auto cancelled = [&] { return make_error(Errc::state, "connect to " + where + ": cancelled"); };
  std::string why = "no address";
  for (const addrinfo* ai = res; ai; ai = ai->ai_next) {
    if (Clock::now() >= deadline) return timed_out();
    if (cancel && cancel->load()) return cancelled();
    int fd = connect_one(ai, deadline, cancel, &why);
    if (fd < 0) continue;
    conn->fd_ = fd;
    conn->remote_ = format_addr(ai->ai_addr);
    break;
  }
  if (conn->fd_ < 0) {
    if (why == "timed out") return timed_out();
    if (why == "cancelled") return cancelled();
    return make_error(Errc::io, "connect to " + where + ": " + why);
  }

  ERR_clear_error();
  conn->ssl_ = SSL_new(ctx_);
  BIO* bio = conn->ssl_ ? BIO_new(sock_method()) : nullptr;
  if (!bio) return make_error(Errc::crypto, "cannot make a TLS session: " + ssl_errors());
  conn->sock_.fd = conn->fd_;
  BIO_set_data(bio, &conn->sock_);
  BIO_set_init(bio, 1);
  SSL_set_bio(conn->ssl_, bio, bio);  // the SSL owns the BIO now
  VerifyState vs;
  vs.is_member = &is_member_;
  vs.expected = expected;
  SSL_set_app_data(conn->ssl_, &vs);
  SSL_set_connect_state(conn->ssl_);

  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(conn->ssl_);
    if (r == 1) break;
    int err = SSL_get_error(conn->ssl_, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      auto st =
          conn->wait(err == SSL_ERROR_WANT_READ ? PeerConn::Want::read : PeerConn::Want::write,
                     deadline, cancel);
      if (!st) {
        SSL_set_app_data(conn->ssl_, nullptr);
        if (st.error().code == Errc::io && Clock::now() >= deadline) return timed_out();
        return make_error(st.error().code,
                          "TLS handshake with " + where + ": " + st.error().message);
      }
      continue;
    }
    SSL_set_app_data(conn->ssl_, nullptr);
    if (!vs.refused.empty()) return make_error(Errc::denied, "TLS: " + where + ": " + vs.refused);
    return conn->failure("TLS handshake with " + where, err);
  }
  SSL_set_app_data(conn->ssl_, nullptr);

  // Belt and braces: whatever the callback saw, the leaf must be an acceptable member's key.
  X509* cert = SSL_get0_peer_certificate(conn->ssl_);
  auto key = cert ? cert_key(cert) : std::nullopt;
  if (!key || (expected && *key != *expected) || !is_member_ || !is_member_(*key))
    return make_error(Errc::denied, "TLS: " + where + ": the server is not an acceptable member");
  if (SSL_version(conn->ssl_) != TLS1_3_VERSION)
    return make_error(Errc::crypto, "TLS: " + where + ": not TLS 1.3");
  conn->peer_ = *key;
  if (int len = i2d_X509(cert, nullptr); len > 0 && len <= 64 * 1024) {
    conn->peer_der_.resize(static_cast<std::size_t>(len));
    unsigned char* p = conn->peer_der_.data();
    if (i2d_X509(cert, &p) != len) conn->peer_der_.clear();
  }
  return conn;
}

// ---- PeerConn ----

PeerConn::~PeerConn() {
  if (ssl_) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

void PeerConn::close() {
  if (closed_.exchange(true)) return;
  {
    // A courtesy close_notify; non-blocking, so it never waits for the peer.
    std::lock_guard lock(ssl_mu_);
    if (ssl_ && SSL_is_init_finished(ssl_)) {
      ERR_clear_error();
      SSL_shutdown(ssl_);
      ERR_clear_error();
    }
  }
  // Wakes every poll() on this socket; the descriptor itself is closed by the destructor, so
  // a concurrent call never sees a reused number.
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

Status PeerConn::wait(Want want, Clock::time_point deadline, const std::atomic<bool>* cancel) {
  for (;;) {
    if (closed_.load()) return make_error(Errc::state, "the connection is closed");
    if (cancel && cancel->load()) return make_error(Errc::state, "cancelled");
    if (Clock::now() >= deadline)
      return make_error(Errc::io,
                        where_ + ": timed out after " + std::to_string(timeout_.count()) + " ms");
    pollfd p{fd_, static_cast<short>(want == Want::read ? POLLIN : POLLOUT), 0};
    int r = ::poll(&p, 1, poll_ms(deadline));
    if (r < 0 && errno != EINTR) return make_error(Errc::io, where_ + ": " + std::strerror(errno));
    if (r > 0) return {};
    // A slice passed: let the caller retry, another thread may have changed the TLS state.
    if (r == 0 && Clock::now() < deadline) return {};
  }
}

Error PeerConn::failure(std::string_view what, int ssl_error) {
  std::string detail;
  if (ssl_error == SSL_ERROR_SYSCALL) {
    detail = errno ? std::strerror(errno) : "connection reset";
    std::string more = ssl_errors();
    if (!more.empty()) detail += " (" + more + ")";
  } else {
    detail = ssl_errors();
    if (detail.empty()) detail = "TLS error " + std::to_string(ssl_error);
  }
  // In TLS 1.3 the server judges our certificate after our side of the handshake is done, so
  // its refusal arrives as an alert on the first read.
  Errc code = detail.find("alert") != std::string::npos ? Errc::denied : Errc::io;
  return make_error(code, std::string(what) + ": " + detail);
}

Result<std::size_t> PeerConn::read(char* buf, std::size_t cap) {
  if (cap == 0) return std::size_t{0};
  const auto deadline = Clock::now() + timeout_;
  for (;;) {
    if (closed_.load()) return make_error(Errc::state, "the connection is closed");
    int r = 0, err = SSL_ERROR_NONE;
    std::size_t got = 0;
    {
      std::lock_guard lock(ssl_mu_);
      ERR_clear_error();
      errno = 0;
      r = SSL_read_ex(ssl_, buf, cap, &got);
      if (r != 1) err = SSL_get_error(ssl_, r);
      if (r != 1 && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE &&
          err != SSL_ERROR_ZERO_RETURN) {
        return failure("read from " + where_, err);
      }
    }
    if (r == 1) return got;
    if (err == SSL_ERROR_ZERO_RETURN) return std::size_t{0};
    if (auto st = wait(err == SSL_ERROR_WANT_READ ? Want::read : Want::write, deadline); !st)
      return st.error();
  }
}

Status PeerConn::write(std::string_view data) {
  // The timeout bounds the wait for progress, not the whole transfer.
  auto deadline = Clock::now() + timeout_;
  while (!data.empty()) {
    if (closed_.load()) return make_error(Errc::state, "the connection is closed");
    int r = 0, err = SSL_ERROR_NONE;
    std::size_t n = 0;
    {
      std::lock_guard lock(ssl_mu_);
      ERR_clear_error();
      errno = 0;
      r = SSL_write_ex(ssl_, data.data(), data.size(), &n);
      if (r != 1) err = SSL_get_error(ssl_, r);
      if (r != 1 && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
        return failure("write to " + where_, err);
    }
    if (r == 1) {
      data.remove_prefix(n);
      deadline = Clock::now() + timeout_;
      continue;
    }
    if (auto st = wait(err == SSL_ERROR_WANT_READ ? Want::read : Want::write, deadline); !st)
      return st;
  }
  return {};
}

}  // namespace mesh::http
