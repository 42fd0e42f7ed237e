// The only translation unit with buffer_body: the parser and serializer of streamed exchanges,
// instantiated once on Transport.
#include "stream_exchange.hpp"

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

namespace mesh::http::detail {

namespace bhttp = beast::http;

struct BodyStream::Impl {
  explicit Impl(StringRequestParser&& header_done) : parser(std::move(header_done)) {}

  bhttp::request_parser<bhttp::buffer_body> parser;
  bhttp::response<bhttp::buffer_body> res;
  std::optional<bhttp::response_serializer<bhttp::buffer_body>> sr;
  bool send_body = false;
};

BodyStream::BodyStream(StringRequestParser&& header_done, std::uint64_t max_body)
    : impl_(std::make_unique<Impl>(std::move(header_done))) {
  impl_->parser.body_limit(max_body);
}

BodyStream::~BodyStream() = default;

bool BodyStream::body_done() const {
  return impl_->parser.is_done();
}

asio::awaitable<std::pair<error_code, std::size_t>> BodyStream::read(Transport& t,
                                                                     beast::flat_buffer& buf,
                                                                     char* out, std::size_t cap) {
  auto& p = impl_->parser;
  std::size_t got = 0;
  error_code ec;
  // Beast sizes each socket read by the buffer's capacity: without this a push arrives 4 KiB
  // per recv (about 800 syscalls and thread hand-offs for a 3 MB pack).
  if (buf.capacity() < buf.max_size()) buf.reserve(buf.max_size());
  // One read_some may parse only framing (a chunk header), so go on until a byte arrived.
  while (got == 0 && !p.is_done()) {
    p.get().body().data = out + got;
    p.get().body().size = cap - got;
    auto [rec, n] = co_await bhttp::async_read_some(t, buf, p, use_tuple);
    got = cap - p.get().body().size;
    // A full buffer is not an error: the rest waits in `buf` for the next read.
    if (rec == bhttp::error::need_buffer) rec = {};
    if (rec) {
      ec = rec;
      break;
    }
  }
  // The parser must not keep a pointer into the caller's buffer.
  p.get().body().data = nullptr;
  p.get().body().size = 0;
  co_return std::pair{ec, got};
}

asio::awaitable<error_code> BodyStream::begin(Transport& t, bhttp::response_header<>&& header,
                                              bool keep_alive, bool head) {
  auto& res = impl_->res;
  res = bhttp::response<bhttp::buffer_body>(std::move(header));
  const unsigned status = res.result_int();
  const bool bodyless = status == 204 || status == 304;
  res.keep_alive(keep_alive && res.version() >= 11);
  // HEAD gets the headers its GET would have (chunked); 204/304 have no body to frame.
  if (res.version() >= 11 && !bodyless) res.chunked(true);
  impl_->send_body = !head && !bodyless;
  res.body().data = nullptr;
  res.body().size = 0;
  res.body().more = true;
  impl_->sr.emplace(res);
  auto [ec, n] = co_await bhttp::async_write_header(t, *impl_->sr, use_tuple);
  co_return ec;
}

bool BodyStream::need_eof() const {
  return impl_->res.need_eof();
}

asio::awaitable<error_code> BodyStream::write(Transport& t, std::string_view data) {
  // An empty buffer_body chunk would be the last chunk.
  if (!impl_->send_body || data.empty()) co_return error_code{};
  auto& body = impl_->res.body();
  body.data = const_cast<char*>(data.data());
  body.size = data.size();
  body.more = true;
  auto [ec, n] = co_await bhttp::async_write(t, *impl_->sr, use_tuple);
  body.data = nullptr;
  body.size = 0;
  // need_buffer: the chunk is out and the serializer waits for the next one.
  if (ec == bhttp::error::need_buffer) ec = {};
  co_return ec;
}

asio::awaitable<error_code> BodyStream::end(Transport& t) {
  if (!impl_->send_body) co_return error_code{};
  auto& body = impl_->res.body();
  body.data = nullptr;
  body.size = 0;
  body.more = false;
  auto [ec, n] = co_await bhttp::async_write(t, *impl_->sr, use_tuple);
  co_return ec;
}

}  // namespace mesh::http::detail
