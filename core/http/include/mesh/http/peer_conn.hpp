// A blocking TLS 1.3 client connection to another member (plugins' peer_connect, ABI 1.2).
// Plain OpenSSL over a POSIX socket, no Asio/Beast: the caller is a plugin thread that wants
// to block, and this header stays cheap to include.
//
// Trust is the same as for links: there is no CA; the server's leaf certificate must carry the
// Ed25519 key of a current member (and the pinned key, when one is given). This node presents
// its own certificate, so the server sees an authenticated member. TLS 1.3 only, no session
// resumption (a removed member is refused at its next connection).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/http/server.hpp"  // MemberCheck
#include "mesh/identity/identity.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace mesh::http {

namespace detail {
// The socket as peer_conn.cpp's OpenSSL BIO sees it.
struct PeerSocket {
  int fd = -1;
  bool eof = false;  // recv() saw the end of the stream
};
}  // namespace detail

// "host:port" or "[v6]:port" (port 1..65535, host non-empty).
Result<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view text);

class PeerConn {
 public:
  ~PeerConn();
  PeerConn(const PeerConn&) = delete;
  PeerConn& operator=(const PeerConn&) = delete;

  // Up to cap bytes; 0 once the server closed the connection (cleanly or not, after the
  // handshake). Errc::io on a socket error or when no byte arrived within the timeout,
  // Errc::denied when the server refused our certificate (TLS 1.3 tells us only now),
  // Errc::state after close().
  Result<std::size_t> read(char* buf, std::size_t cap);
  // Every byte, or an error (Errc::io: socket error or timeout; Errc::state after close()).
  Status write(std::string_view data);
  // Shuts the socket down: a read or write blocked in another thread returns at once. Safe to
  // call from any thread and more than once; the memory goes with the last reference.
  void close();

  // Replaces the bound on each later read and write (connect's timeout until then). Call it
  // before the connection is shared with another thread.
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

  const identity::PublicKey& peer() const { return peer_; }
  // The server's leaf certificate (DER), as verified: what libgit2's certificate_check sees.
  const std::vector<std::uint8_t>& peer_certificate() const { return peer_der_; }
  const std::string& remote() const { return remote_; }  // "ip:port"

 private:
  friend class PeerConnector;
  PeerConn() = default;
  enum class Want { read, write };
  // Waits until fd is ready for `want` or the per-operation deadline passes.
  Status wait(Want want, std::chrono::steady_clock::time_point deadline,
              const std::atomic<bool>* cancel = nullptr);
  Error failure(std::string_view what, int ssl_error);

  std::mutex ssl_mu_;  // held only around SSL_* calls: the socket is non-blocking
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  detail::PeerSocket sock_;
  std::atomic<bool> closed_{false};
  std::chrono::milliseconds timeout_{30'000};
  identity::PublicKey peer_;
  std::vector<std::uint8_t> peer_der_;
  std::string remote_;
  std::string where_;  // as the caller named it, for messages
};

// Makes PeerConns. Holds the TLS context (our certificate and key), so it is built once per
// daemon. Thread-safe.
class PeerConnector {
 public:
  // is_member decides which server keys are acceptable (it must be thread-safe).
  static Result<std::shared_ptr<PeerConnector>> create(const identity::TlsMaterial& tls,
                                                       MemberCheck is_member);
  ~PeerConnector();
  PeerConnector(const PeerConnector&) = delete;
  PeerConnector& operator=(const PeerConnector&) = delete;

  // Resolves host_port, connects (each address in turn) and completes the TLS handshake, all
  // within `timeout`, which then bounds every later read and write. expected pins one member.
  // Errc::invalid for a malformed address, Errc::io for network failures and timeouts,
  // Errc::denied when the server is not a member or not the pinned one, Errc::state when
  // *cancel became true (checked at least every 250 ms while waiting).
  Result<std::shared_ptr<PeerConn>> connect(std::string_view host_port,
                                            std::optional<identity::PublicKey> expected,
                                            std::chrono::milliseconds timeout,
                                            const std::atomic<bool>* cancel = nullptr) const;

 private:
  PeerConnector() = default;
  SSL_CTX* ctx_ = nullptr;
  MemberCheck is_member_;
};

}  // namespace mesh::http
