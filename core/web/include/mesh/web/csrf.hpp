// The node's CSRF token: what every state-changing request to a loopback-only route carries
// (header X-Mesh-Csrf, or a form field `csrf`). Derived from the node's secret key, so it is
// stable across restarts, differs per node and needs no storage; it is never logged.
#pragma once

#include <string>
#include <string_view>

#include "mesh/identity/identity.hpp"

namespace mesh::web {

class CsrfToken {
 public:
  // base64url (43 characters) of a keyed BLAKE2b-256 of a fixed label, keyed with a secret
  // derived from the node key (Identity::derive_secret).
  explicit CsrfToken(const identity::Identity& node);
  // A given token (tests); must be non-empty.
  static CsrfToken from_value(std::string value);

  const std::string& value() const { return value_; }
  // Constant-time comparison; false for an empty or differently sized candidate.
  bool matches(std::string_view candidate) const;

 private:
  CsrfToken() = default;
  std::string value_;
};

}  // namespace mesh::web
