// Exactly one terminal call on an HttpIo per request, whatever path the service takes: a
// whole text response, or begin/write.../end, or an abort. An exception from the adapter counts
// as a failed call.
#pragma once

#include <string_view>

#include "git_service.hpp"
#include "smart_http.hpp"

namespace mesh::repl {

class HttpReply {
 public:
  HttpReply(HttpIo& io, ServeResult& result) : io_(io), result_(result) {}
  ~HttpReply() {
    if (!done_) end(false);
  }
  HttpReply(const HttpReply&) = delete;
  HttpReply& operator=(const HttpReply&) = delete;

  bool begun() const { return begun_; }
  bool done() const { return done_; }

  // A whole text/plain response (before begin only).
  void text(unsigned status, std::string_view body, const Headers& extra = {});
  bool begin(unsigned status, const Headers& headers);
  bool write(std::string_view d);
  void end(bool ok);
  // An error: a plain response while nothing was sent, else an abort.
  void fail(unsigned status, std::string_view body);

 private:
  HttpIo& io_;
  ServeResult& result_;
  bool begun_ = false;
  bool failed_ = false;
  bool done_ = false;
};

}  // namespace mesh::repl
