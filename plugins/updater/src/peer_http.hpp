// A minimal HTTP/1.1 GET client over a byte stream: what `mesh update --from PEER` speaks to a
// member's updater routes over a peer connection (mutual TLS made by the host, ABI 1.2
// peer_connect). Bounded everywhere: the response head (16 KiB, 64 headers), chunk-size lines,
// and the body (max_body). Content-Length, chunked (what the host's streamed responses use)
// and close-delimited bodies are understood.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "errors.hpp"

namespace mesh::updater {

// One connection. read(): >0 bytes read, 0 at the end of the stream, <0 an error (the peer
// went away or a read timed out: the host bounds every read).
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual long read(char* buf, std::size_t cap) = 0;
  virtual bool write(std::string_view data) = 0;
};

constexpr std::size_t kMaxResponseHead = 16 * 1024;
constexpr std::size_t kMaxResponseHeaders = 64;

struct HttpHead {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Called with each piece of the body; returning false stops the transfer (Errc::cancelled).
using BodySink = std::function<bool(std::string_view)>;

// Sends `GET path` (with `Range: bytes=<range_from>-` when given) and reads the response.
// on_head sees the status and headers first and may refuse them (return an Error) before any
// body byte reaches sink. A body over max_body is Errc::too_large; one that ends early is
// Errc::network ("the connection closed after N bytes").
Result<HttpHead> http_get(ByteStream& stream, std::string_view path,
                          std::optional<std::uint64_t> range_from, std::uint64_t max_body,
                          const std::function<Status(const HttpHead&)>& on_head,
                          const BodySink& sink);

// Parses a response head (status line and headers, without the final empty line).
Result<HttpHead> parse_response_head(std::string_view head);

}  // namespace mesh::updater
