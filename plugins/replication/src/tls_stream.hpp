// libgit2's TLS stream, replaced (git_stream_register) by connections the daemon makes: TLS
// 1.3 with this node's certificate, the server pinned to a member key (PLATFORM.md: Debian's
// libgit2 uses mbedTLS, which has neither TLS 1.3 nor Ed25519).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace mesh::repl {

// One connected, authenticated byte stream. Blocking; negative results are errors.
class Conn {
 public:
  virtual ~Conn() = default;
  virtual long read(char* buf, std::size_t cap) = 0;  // 0 = closed by the server
  virtual long write(const char* buf, std::size_t len) = 0;
  virtual void close() = 0;
};

// Makes a connection to host:port pinned to `peer_id` ("mesh:...", empty = any member).
using Dialer = std::function<std::unique_ptr<Conn>(const std::string& host_port,
                                                   const std::string& peer_id, std::string* err)>;

// Registers the stream with libgit2 (process-wide; call after git_libgit2_init).
// uninstall_tls_stream() restores libgit2's own.
int install_tls_stream(Dialer dialer);
void uninstall_tls_stream();

// The member the current thread's next https connections must reach (libgit2 connects on the
// calling thread). Scoped.
class PinPeer {
 public:
  explicit PinPeer(std::string peer_id);
  ~PinPeer();
  PinPeer(const PinPeer&) = delete;
  PinPeer& operator=(const PinPeer&) = delete;

 private:
  std::string previous_;
};

}  // namespace mesh::repl
