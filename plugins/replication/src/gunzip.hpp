// Streaming gzip decoding of request bodies (possibly several members, as gunzip accepts).
// Output goes to a sink in pieces of at most kGunzipChunk bytes, so memory stays bounded
// whatever the compression ratio.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <functional>
#include <string_view>

namespace mesh::repl {

inline constexpr std::size_t kGunzipChunk = 64 * 1024;

class Gunzip {
 public:
  // Returns false to stop (the caller's cap, a write failure).
  using Sink = std::function<bool(std::string_view)>;

  Gunzip();
  ~Gunzip();
  Gunzip(const Gunzip&) = delete;
  Gunzip& operator=(const Gunzip&) = delete;

  // False on corrupt data or when the sink refused (then *sink_refused is set).
  bool feed(std::string_view in, const Sink& sink, bool* sink_refused);
  // The body ended on a member boundary.
  bool complete() const { return ok_ && ended_; }

 private:
  z_stream zs_{};
  bool ok_ = false;
  bool ended_ = false;
  char out_[kGunzipChunk];
};

}  // namespace mesh::repl
