// Internal to mesh_http: the Beast side of a streamed exchange (Router::try_add_stream). The
// buffer_body parser and serializer live only in stream_exchange.cpp, instantiated once on
// Transport (PLATFORM.md: every Beast instantiation costs compile time); server.cpp drives them
// through this small non-template interface.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "transport.hpp"

namespace mesh::http::detail {

using StringRequestParser = beast::http::request_parser<beast::http::string_body>;

// The request body and the response of one streamed exchange. One read and one write may be in
// flight at the same time (they share nothing but the transport, which allows that); each
// direction is sequential. The caller sets the socket timeout before each call.
class BodyStream {
 public:
  // Takes over `header_done`, a parser that has read the request header and none of the body.
  BodyStream(StringRequestParser&& header_done, std::uint64_t max_body);
  ~BodyStream();
  BodyStream(const BodyStream&) = delete;
  BodyStream& operator=(const BodyStream&) = delete;

  // The whole body has been read (also true for a request without one).
  bool body_done() const;
  // Reads until at least one body byte is in `buf`, or the body ends (0 bytes). Errors as
  // Beast reports them (body_limit, parse errors, end_of_stream/partial_message, socket).
  asio::awaitable<std::pair<error_code, std::size_t>> read(Transport& t, beast::flat_buffer& buf,
                                                           char* out, std::size_t cap);

  // Writes the status line and headers. The body follows chunked (HTTP/1.1), or until the
  // connection closes (HTTP/1.0). `head` (a HEAD request) and 204/304 send no body at all: write
  // and end become no-ops.
  asio::awaitable<error_code> begin(Transport& t, beast::http::response_header<>&& header,
                                    bool keep_alive, bool head);
  // After begin(): whether the response as announced requires closing the connection.
  bool need_eof() const;
  // One chunk; `data` must stay valid until this completes. Empty data writes nothing.
  asio::awaitable<error_code> write(Transport& t, std::string_view data);
  // The last chunk.
  asio::awaitable<error_code> end(Transport& t);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mesh::http::detail
