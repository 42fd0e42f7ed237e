#include "gunzip.hpp"

namespace mesh::repl {

Gunzip::Gunzip() {
  zs_.zalloc = Z_NULL;
  zs_.zfree = Z_NULL;
  zs_.opaque = Z_NULL;
  ok_ = inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK;
}

Gunzip::~Gunzip() {
  if (ok_) inflateEnd(&zs_);
}

bool Gunzip::feed(std::string_view in, const Sink& sink, bool* sink_refused) {
  if (!ok_) return false;
  zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs_.avail_in = static_cast<uInt>(in.size());
  while (zs_.avail_in > 0) {
    if (ended_) {
      // Another member follows.
      if (inflateReset(&zs_) != Z_OK) return false;
      ended_ = false;
    }
    zs_.next_out = reinterpret_cast<Bytef*>(out_);
    zs_.avail_out = sizeof out_;
    int rc = inflate(&zs_, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return false;
    std::size_t n = sizeof out_ - zs_.avail_out;
    if (n > 0 && !sink(std::string_view(out_, n))) {
      *sink_refused = true;
      return false;
    }
    if (rc == Z_STREAM_END) ended_ = true;
    if (rc == Z_BUF_ERROR && n == 0) return false;  // no progress possible
  }
  return true;
}

}  // namespace mesh::repl
