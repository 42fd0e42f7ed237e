// The client side of an objects upload (object_offers.hpp): one HTTP/1.1 POST of a file with
// a Content-Length, over a connection to a member that the caller opened (the host's
// peer_connect), and the status line of the answer. Bounded: the answer's head and text are
// read up to 8 KiB.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace mesh::repl {

class ByteConn {
 public:
  virtual ~ByteConn() = default;
  // >0 bytes read, 0 at the end of the stream, <0 an error (a timeout, a reset).
  virtual long read(char* buf, std::size_t cap) = 0;
  virtual bool write(std::string_view data) = 0;
};

// "" once the server answered 2xx; else why not (the status and the first line of its text,
// or the transport error).
std::string post_file(ByteConn& conn, const std::string& path, const std::filesystem::path& file,
                      std::uint64_t size);

}  // namespace mesh::repl
