#include "git_tls.hpp"

#include <git2.h>
#include <git2/sys/stream.h>

#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace mesh::plugin {
namespace {

// Reaching a member and completing the TLS handshake takes well under a second on any route
// that works; a route that drops packets silently must not hold a fetch for the whole I/O
// bound, which is generous because upload-pack may think for a while before it answers.
constexpr auto kConnectTimeout = std::chrono::milliseconds(5'000);
constexpr auto kIoTimeout = std::chrono::milliseconds(30'000);

// libgit2's stream registration is process-wide by nature; this is the connector it uses. The
// latest install wins (only tests make more than one host in a process).
struct Registration {
  std::mutex mu;
  std::shared_ptr<const http::PeerConnector> connector;
  int installs = 0;
};

Registration& registration() {
  static Registration r;
  return r;
}

std::shared_ptr<const http::PeerConnector> current_connector() {
  auto& r = registration();
  std::lock_guard lock(r.mu);
  return r.connector;
}

struct Stream {
  git_stream parent;  // first member: libgit2 casts between the two
  std::string host_port;
  std::shared_ptr<http::PeerConn> conn;
  std::vector<std::uint8_t> der;
  git_cert_x509 cert{};
};

Stream* self(git_stream* s) {
  return reinterpret_cast<Stream*>(s);
}

int fail(const std::string& what) {
  git_error_set_str(GIT_ERROR_NET, ("mesh: " + what).c_str());
  return -1;
}

int s_connect(git_stream* gs) {
  auto* s = self(gs);
  auto connector = current_connector();
  if (!connector) return fail("the daemon offers no member connections");
  auto c = connector->connect(s->host_port, std::nullopt, kConnectTimeout);
  if (!c) return fail(c.error().message);
  s->conn = std::move(*c);
  s->conn->set_timeout(kIoTimeout);
  s->der = s->conn->peer_certificate();
  return 0;
}

// The member's leaf certificate, for a plugin's certificate_check (libgit2 owns nothing here:
// the memory lives as long as the stream).
int s_certificate(git_cert** out, git_stream* gs) {
  auto* s = self(gs);
  if (!s->conn || s->der.empty()) return fail("no certificate: not connected");
  s->cert.parent.cert_type = GIT_CERT_X509;
  s->cert.data = s->der.data();
  s->cert.len = s->der.size();
  *out = &s->cert.parent;
  return 0;
}

ssize_t s_read(git_stream* gs, void* buf, size_t len) {
  auto* s = self(gs);
  if (!s->conn) return fail("not connected");
  auto n = s->conn->read(static_cast<char*>(buf), len);
  if (!n) return fail("reading from " + s->host_port + ": " + n.error().message);
  return static_cast<ssize_t>(*n);
}

ssize_t s_write(git_stream* gs, const char* buf, size_t len, int) {
  auto* s = self(gs);
  if (!s->conn) return fail("not connected");
  if (auto st = s->conn->write(std::string_view(buf, len)); !st) {
    return fail("writing to " + s->host_port + ": " + st.error().message);
  }
  return static_cast<ssize_t>(len);
}

int s_close(git_stream* gs) {
  if (auto* s = self(gs); s->conn) s->conn->close();
  return 0;
}

void s_free(git_stream* gs) {
  delete self(gs);
}

int s_init(git_stream** out, const char* host, const char* port) {
  auto* s = new (std::nothrow) Stream{};
  if (!s) return -1;
  s->parent.version = GIT_STREAM_VERSION;
  s->parent.encrypted = 1;
  s->parent.proxy_support = 0;
  s->parent.connect = s_connect;
  s->parent.certificate = s_certificate;
  s->parent.read = s_read;
  s->parent.write = s_write;
  s->parent.close = s_close;
  s->parent.free = s_free;
  std::string h = host ? host : "";
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 literals come bare
  s->host_port = h + ":" + (port && *port ? port : "443");
  *out = &s->parent;
  return 0;
}

git_stream_registration g_stream{GIT_STREAM_VERSION, s_init, nullptr};

}  // namespace

Result<std::unique_ptr<GitTlsStream>> GitTlsStream::install(
    std::shared_ptr<const http::PeerConnector> connector) {
  if (!connector) return make_error(Errc::invalid, "no peer connector");
  if (git_libgit2_init() < 0) {
    const git_error* e = git_error_last();
    return make_error(Errc::internal,
                      std::string("libgit2 init failed: ") + (e ? e->message : "unknown"));
  }
  auto& r = registration();
  std::lock_guard lock(r.mu);
  if (git_stream_register(GIT_STREAM_TLS, &g_stream) != 0) {
    git_libgit2_shutdown();
    const git_error* e = git_error_last();
    return make_error(Errc::internal, std::string("registering the libgit2 TLS stream: ") +
                                          (e ? e->message : "unknown"));
  }
  r.connector = std::move(connector);
  ++r.installs;
  return std::unique_ptr<GitTlsStream>(new GitTlsStream());
}

GitTlsStream::~GitTlsStream() {
  auto& r = registration();
  {
    std::lock_guard lock(r.mu);
    if (--r.installs == 0) {
      git_stream_register(GIT_STREAM_TLS, nullptr);
      r.connector.reset();
    }
  }
  git_libgit2_shutdown();
}

}  // namespace mesh::plugin
