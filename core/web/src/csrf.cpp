#include "mesh/web/csrf.hpp"

#include <sodium.h>

#include "mesh/base/encoding.hpp"

namespace mesh::web {

CsrfToken::CsrfToken(const identity::Identity& node) {
  auto secret = node.derive_secret("web-csrf");
  value_ = to_base64url(secret);
  sodium_memzero(secret.data(), secret.size());
}

CsrfToken CsrfToken::from_value(std::string value) {
  CsrfToken t;
  t.value_ = std::move(value);
  return t;
}

bool CsrfToken::matches(std::string_view candidate) const {
  if (value_.empty() || candidate.size() != value_.size()) return false;
  return sodium_memcmp(candidate.data(), value_.data(), value_.size()) == 0;
}

}  // namespace mesh::web
