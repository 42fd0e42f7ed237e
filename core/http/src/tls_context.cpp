// The listener's OpenSSL context (see tls_context.hpp).
#include "tls_context.hpp"

#include <openssl/ssl.h>

namespace mesh::http::detail {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// TLS 1.2 suites for the P-256 certificate only: ECDHE, AEAD. (TLS 1.3 has its own list.)
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305";
// Our order wins (SSL_OP_CIPHER_SERVER_PREFERENCE): a client that can verify Ed25519 gets the
// node certificate, every other one the P-256 certificate.
constexpr const char* kSigalgs = "ed25519:ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512";

Status use_pair(asio::ssl::context& ctx, const identity::TlsMaterial& tls, std::string_view what) {
  if (tls.cert_pem.empty() || tls.key_pem.empty()) {
    return make_error(Errc::invalid,
                      "the HTTP server needs a " + std::string(what) + " TLS certificate and key");
  }
  error_code ec;
  ctx.use_certificate_chain(asio::buffer(tls.cert_pem), ec);
  if (ec)
    return make_error(Errc::crypto,
                      "bad " + std::string(what) + " TLS certificate: " + ec.message());
  ctx.use_private_key(asio::buffer(tls.key_pem), asio::ssl::context::pem, ec);
  if (ec) return make_error(Errc::crypto, "bad " + std::string(what) + " TLS key: " + ec.message());
  // Checks the pair just loaded (OpenSSL keeps one per key type).
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    return make_error(Errc::crypto,
                      "the " + std::string(what) + " TLS key does not match its certificate");
  }
  return {};
}

}  // namespace

Status configure_server_tls(asio::ssl::context& ctx, const identity::TlsMaterial& node,
                            const std::optional<identity::TlsMaterial>& local) {
  SSL_CTX* native = ctx.native_handle();
  const int min_version = local ? TLS1_2_VERSION : TLS1_3_VERSION;
  if (SSL_CTX_set_min_proto_version(native, min_version) != 1) {
    return make_error(Errc::crypto, "cannot set the minimum TLS version");
  }
  // Membership is checked on every handshake, so no resumption: a removed key must not come
  // back in on an old session ticket. No renegotiation either (TLS 1.2).
  SSL_CTX_set_options(native,
                      SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_num_tickets(native, 0);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1 ||
      SSL_CTX_set1_sigalgs_list(native, kSigalgs) != 1) {
    return make_error(Errc::crypto, "cannot set the TLS cipher suites");
  }
  if (auto st = use_pair(ctx, node, "node"); !st) return st;
  if (local) {
    if (auto st = use_pair(ctx, *local, "local"); !st) return st;
  }
  // Ask for a client certificate without requiring one: loopback clients have none. A
  // certificate that is presented is judged by the per-connection callback.
  error_code ec;
  ctx.set_verify_mode(asio::ssl::verify_peer, ec);
  if (ec) return make_error(Errc::crypto, "cannot set the TLS verify mode: " + ec.message());
  return {};
}

}  // namespace mesh::http::detail
