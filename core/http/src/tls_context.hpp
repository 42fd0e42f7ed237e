// Internal to mesh_http: the listener's OpenSSL context.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <optional>

#include "mesh/base/result.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::http::detail {

// The node's Ed25519 certificate, TLS 1.3; with `local` (a P-256 certificate) also TLS 1.2 and
// that certificate for local clients that lack TLS 1.3 or Ed25519. OpenSSL picks per handshake
// the certificate the client can verify, Ed25519 first. A client certificate is asked for but
// not required (loopback clients have none); handshake.cpp refuses one below TLS 1.3. No
// session resumption and no renegotiation: membership is re-checked on every handshake.
Status configure_server_tls(boost::asio::ssl::context& ctx, const identity::TlsMaterial& node,
                            const std::optional<identity::TlsMaterial>& local);

}  // namespace mesh::http::detail
