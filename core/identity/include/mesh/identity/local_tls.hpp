// TLS for the user's own clients. Members speak TLS 1.3 with the node's Ed25519 certificate;
// many git builds cannot (libgit2 on mbedTLS 2.28, Schannel, Secure Transport: no TLS 1.3, no
// Ed25519). For them the node also offers an ECDSA P-256 certificate with the same names, and
// writes both certificates to one file that `mesh ssl` points git at, so verification stays on.
#pragma once

#include <filesystem>
#include <string_view>

#include "mesh/base/result.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::identity {

// <root>/keys/local-tls.key and <root>/keys/local-tls.crt.
std::filesystem::path local_tls_key_path(const std::filesystem::path& root);
std::filesystem::path local_tls_cert_path(const std::filesystem::path& root);
// <root>/tls/local-ca.pem: what a local client trusts (both certificates).
std::filesystem::path local_ca_path(const std::filesystem::path& root);

// The P-256 key and its self-signed certificate (subjectAltNames localhost, 127.0.0.1, ::1),
// made once and kept (both files 0600), so the certificate is the same on every start. Refuses
// a key readable by others, and files that are malformed or do not belong together, with the
// fix in the message.
Result<TlsMaterial> load_or_create_local_tls(const std::filesystem::path& root,
                                             std::string_view common_name);

// Writes the PEM certificates, one after the other, to local_ca_path(root) (0644; the directory
// is made if missing), unless the file already holds exactly that.
Status write_local_ca(const std::filesystem::path& root, std::string_view node_cert_pem,
                      std::string_view local_cert_pem);

}  // namespace mesh::identity
