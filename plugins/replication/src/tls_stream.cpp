#include "tls_stream.hpp"

#include <git2.h>
#include <git2/sys/stream.h>

#include <mutex>
#include <new>

namespace mesh::repl {
namespace {

thread_local std::string t_pinned;

std::mutex g_mu;
std::shared_ptr<Dialer> g_dialer;

std::shared_ptr<Dialer> dialer() {
  std::lock_guard lock(g_mu);
  return g_dialer;
}

struct Stream {
  git_stream parent;  // first member: libgit2 casts between the two
  std::string host_port;
  std::string peer_id;
  std::unique_ptr<Conn> conn;
};

Stream* self(git_stream* s) {
  return reinterpret_cast<Stream*>(s);
}

int s_connect(git_stream* gs) {
  auto* s = self(gs);
  auto d = dialer();
  if (!d) {
    git_error_set_str(GIT_ERROR_NET, "mesh: no peer dialer is installed");
    return -1;
  }
  std::string err;
  s->conn = (*d)(s->host_port, s->peer_id, &err);
  if (!s->conn) {
    git_error_set_str(GIT_ERROR_NET, ("mesh: " + err).c_str());
    return -1;
  }
  return 0;
}

int s_certificate(git_cert** out, git_stream*) {
  // The dialer already pinned the member key; there is no X.509 chain to show.
  *out = nullptr;
  git_error_set_str(GIT_ERROR_NET, "mesh: peer certificates are pinned by the daemon");
  return -1;
}

ssize_t s_read(git_stream* gs, void* buf, size_t len) {
  auto* s = self(gs);
  if (!s->conn) return -1;
  long n = s->conn->read(static_cast<char*>(buf), len);
  if (n < 0) git_error_set_str(GIT_ERROR_NET, "mesh: reading from the peer failed");
  return n;
}

ssize_t s_write(git_stream* gs, const char* buf, size_t len, int) {
  auto* s = self(gs);
  if (!s->conn) return -1;
  long n = s->conn->write(buf, len);
  if (n < 0) git_error_set_str(GIT_ERROR_NET, "mesh: writing to the peer failed");
  return n;
}

int s_close(git_stream* gs) {
  auto* s = self(gs);
  if (s->conn) s->conn->close();
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
  // IPv6 literals arrive without brackets.
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  s->host_port = h + ":" + (port ? port : "443");
  s->peer_id = t_pinned;
  *out = &s->parent;
  return 0;
}

}  // namespace

int install_tls_stream(Dialer d) {
  {
    std::lock_guard lock(g_mu);
    g_dialer = std::make_shared<Dialer>(std::move(d));
  }
  static git_stream_registration reg{GIT_STREAM_VERSION, s_init, nullptr};
  return git_stream_register(GIT_STREAM_TLS, &reg);
}

void uninstall_tls_stream() {
  git_stream_register(GIT_STREAM_TLS, nullptr);
  std::lock_guard lock(g_mu);
  g_dialer.reset();
}

PinPeer::PinPeer(std::string peer_id) : previous_(std::move(t_pinned)) {
  t_pinned = std::move(peer_id);
}
PinPeer::~PinPeer() {
  t_pinned = std::move(previous_);
}

}  // namespace mesh::repl
