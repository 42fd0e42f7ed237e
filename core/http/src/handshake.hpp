// Internal to mesh_http: the start of every accepted connection. Plain HTTP and TLS share the
// port and are told apart by the first bytes; a TLS handshake that presents a client
// certificate must show the key of a current member.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <optional>
#include <string>

#include "mesh/http/server.hpp"
#include "transport.hpp"

namespace mesh::http::detail {

struct Opening {
  bool ok = false;  // false: the connection is over (timeout, garbage, refused certificate)
  std::optional<identity::PublicKey> member;  // the member whose certificate was presented
};

// Reads the first bytes into `buffer` and, for TLS, completes the handshake on `transport`
// (the bytes it consumed are removed from `buffer`). The caller sets the socket's deadline.
boost::asio::awaitable<Opening> open_connection(Transport& transport, beast::flat_buffer& buffer,
                                                boost::asio::ssl::context& ssl,
                                                const MemberCheck& is_member,
                                                const std::string& remote);

}  // namespace mesh::http::detail
