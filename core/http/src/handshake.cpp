// Plain-or-TLS detection and the server side of the TLS handshake (see handshake.hpp).
#include "handshake.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <boost/beast/core/detect_ssl.hpp>
#include <memory>

namespace mesh::http::detail {

namespace {

// What the verify callback learnt, kept beside the stream for the handshake's duration.
struct VerifyState {
  const MemberCheck* is_member = nullptr;
  std::string remote;
  bool refused = false;  // already logged why
};

bool member(const MemberCheck& check, const identity::PublicKey& key) {
  return check && check(key);
}

// There is no CA: the only question is whether the leaf's Ed25519 key is a roster member.
// Chain errors are therefore irrelevant; the TLS handshake itself proves key possession.
bool verify_peer(VerifyState& st, X509_STORE_CTX* store) {
  if (X509_STORE_CTX_get_error_depth(store) > 0) return true;
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (!cert) return false;
  // Member links are TLS 1.3 only; TLS 1.2 is there for certificate-less local clients.
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (!ssl || SSL_version(ssl) < TLS1_3_VERSION) {
    if (!st.refused) {
      spdlog::warn("http: {}: refusing a client certificate below TLS 1.3", st.remote);
    }
    st.refused = true;
    return false;
  }
  auto key = cert_key(cert);
  if (!key) {
    if (!st.refused) spdlog::warn("http: {}: refusing a non-Ed25519 client certificate", st.remote);
    st.refused = true;
    return false;
  }
  if (!member(*st.is_member, *key)) {
    if (!st.refused) {
      spdlog::warn("http: {}: refusing client certificate {}: not a member", st.remote,
                   key->short_id());
    }
    st.refused = true;
    return false;
  }
  return true;
}

}  // namespace

asio::awaitable<Opening> open_connection(Transport& transport, beast::flat_buffer& buffer,
                                         asio::ssl::context& ssl, const MemberCheck& is_member,
                                         const std::string& remote) {
  auto [ec, is_tls] = co_await beast::async_detect_ssl(transport.raw(), buffer, use_tuple);
  if (ec) {
    spdlog::debug("http: {}: no request: {}", remote, ec.message());
    co_return Opening{};
  }
  if (!is_tls) co_return Opening{.ok = true, .member = std::nullopt};

  TlsStream& tls = transport.enable_tls(ssl);
  auto st = std::make_shared<VerifyState>(VerifyState{&is_member, remote});
  tls.set_verify_callback(
      [st](bool, asio::ssl::verify_context& ctx) { return verify_peer(*st, ctx.native_handle()); });
  auto [hec, used] =
      co_await tls.async_handshake(asio::ssl::stream_base::server, buffer.data(), use_tuple);
  if (hec) {
    if (!st->refused) spdlog::debug("http: {}: TLS handshake failed: {}", remote, hec.message());
    co_return Opening{};
  }
  buffer.consume(used);
  Opening out{.ok = true, .member = std::nullopt};
  // Belt and braces: whatever the verify callback saw, the leaf that was presented must be a
  // member's. (OpenSSL might not report the leaf to the callback in every error path.)
  if (X509* cert = SSL_get0_peer_certificate(tls.native_handle())) {
    auto key = cert_key(cert);
    if (!key || !member(is_member, *key) || SSL_version(tls.native_handle()) < TLS1_3_VERSION) {
      spdlog::warn("http: {}: refusing a TLS client certificate that is not a member's", remote);
      co_return Opening{};
    }
    out.member = *key;
  }
  co_return out;
}

}  // namespace mesh::http::detail
