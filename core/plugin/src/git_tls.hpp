// libgit2's TLS stream for the whole process, owned by the plugin host (issue #8): any plugin's
// https:// fetch or push through libgit2 reaches another member over the daemon's TLS 1.3
// connection with this node's certificate. Debian's libgit2 uses mbedTLS, which has neither TLS
// 1.3 nor Ed25519 (PLATFORM.md), so its own stream cannot talk to a member at all.
//
// The server must be a current member (the PeerConnector checks the roster). Which member is
// the caller's business: the stream hands libgit2 the server's leaf certificate as a
// git_cert_x509 (DER), and a plugin that must reach one member checks it in its
// certificate_check callback (mesh::sdk::certificate_member_id in plugin.hpp).
#pragma once

#include <memory>

#include "mesh/base/result.hpp"
#include "mesh/http/peer_conn.hpp"

namespace mesh::plugin {

class GitTlsStream {
 public:
  // Holds libgit2 initialised (git_libgit2_init) and the stream registered until destroyed, so
  // a plugin's git_libgit2_shutdown can never take either away while the daemon runs.
  static Result<std::unique_ptr<GitTlsStream>> install(
      std::shared_ptr<const http::PeerConnector> connector);
  ~GitTlsStream();
  GitTlsStream(const GitTlsStream&) = delete;
  GitTlsStream& operator=(const GitTlsStream&) = delete;

 private:
  GitTlsStream() = default;
};

}  // namespace mesh::plugin
