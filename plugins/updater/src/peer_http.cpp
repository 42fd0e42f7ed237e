#include "peer_http.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace mesh::updater {
namespace {

constexpr std::size_t kMaxChunkLine = 256;  // hex size plus extensions

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Buffered reads over the stream; everything it returns is bounded by its caller.
class Reader {
 public:
  explicit Reader(ByteStream& s) : s_(s) {}

  // Bytes up to and including `delim`, at most max; Errc::too_large past it.
  Result<std::string> until(std::string_view delim, std::size_t max, const char* what) {
    for (;;) {
      if (auto at = buf_.find(delim); at != std::string::npos) {
        std::string out = buf_.substr(0, at + delim.size());
        buf_.erase(0, at + delim.size());
        return out;
      }
      if (buf_.size() > max) {
        return make_error(Errc::too_large,
                          std::string(what) + " is larger than " + std::to_string(max) + " bytes");
      }
      auto st = fill();
      if (!st) return st.error();
      if (eof_)
        return make_error(Errc::network, std::string("the connection closed in the ") + what);
    }
  }

  // Exactly n bytes; Errc::network if the stream ends first.
  Result<std::string> exact(std::size_t n, const char* what) {
    while (buf_.size() < n) {
      if (eof_)
        return make_error(Errc::network, std::string("the connection closed in the ") + what);
      auto st = fill();
      if (!st) return st.error();
    }
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

  // Up to n bytes (fewer only at the end of the stream: then `eof()` is true).
  Result<std::string_view> some(std::size_t n) {
    if (buf_.empty() && !eof_) {
      auto st = fill();
      if (!st) return st.error();
    }
    out_.assign(buf_, 0, std::min(n, buf_.size()));
    buf_.erase(0, out_.size());
    return std::string_view(out_);
  }
  bool eof() const { return eof_ && buf_.empty(); }

 private:
  Status fill() {
    char tmp[64 * 1024];
    long n = s_.read(tmp, sizeof tmp);
    if (n < 0)
      return make_error(Errc::network,
                        "reading from the member failed (it went away or "
                        "stopped sending)");
    if (n == 0) eof_ = true;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return {};
  }

  ByteStream& s_;
  std::string buf_;
  std::string out_;
  bool eof_ = false;
};

// Copies exactly `len` body bytes (or to the end of the stream when len is nullopt).
Status copy_body(Reader& r, std::optional<std::uint64_t> len, std::uint64_t* total,
                 std::uint64_t max_body, const BodySink& sink) {
  std::uint64_t left = len.value_or(UINT64_MAX);
  while (left > 0) {
    auto piece = r.some(static_cast<std::size_t>(std::min<std::uint64_t>(left, 64 * 1024)));
    if (!piece) return piece.error();
    if (piece->empty()) {
      if (!len) return {};
      return make_error(Errc::network, "the connection closed after " + std::to_string(*total) +
                                           " bytes of the body");
    }
    *total += piece->size();
    if (*total > max_body) {
      return make_error(Errc::too_large,
                        "the member sent more than " + std::to_string(max_body) + " bytes");
    }
    if (!sink(*piece)) return make_error(Errc::cancelled, "the transfer was stopped");
    left -= piece->size();
  }
  return {};
}

Status chunked_body(Reader& r, std::uint64_t* total, std::uint64_t max_body, const BodySink& sink) {
  for (;;) {
    auto line = r.until("\r\n", kMaxChunkLine, "chunk header");
    if (!line) return line.error();
    std::string_view l(*line);
    l.remove_suffix(2);
    l = l.substr(0, l.find(';'));  // chunk extensions are ignored
    l = trim(l);
    std::uint64_t size = 0;
    auto [p, ec] = std::from_chars(l.data(), l.data() + l.size(), size, 16);
    if (l.empty() || ec != std::errc() || p != l.data() + l.size()) {
      return make_error(Errc::invalid, "bad chunk size from the member");
    }
    if (size == 0) break;
    if (size > max_body) return make_error(Errc::too_large, "a chunk is over the size limit");
    if (auto st = copy_body(r, size, total, max_body, sink); !st) return st;
    auto crlf = r.exact(2, "chunk end");
    if (!crlf) return crlf.error();
    if (*crlf != "\r\n") return make_error(Errc::invalid, "a chunk does not end with CRLF");
  }
  // Trailers, up to the empty line.
  for (std::size_t n = 0;; ++n) {
    auto t = r.until("\r\n", kMaxResponseHead, "trailers");
    if (!t) return t.error();
    if (*t == "\r\n") return {};
    if (n >= kMaxResponseHeaders) return make_error(Errc::too_large, "too many trailers");
  }
}

}  // namespace

Result<HttpHead> parse_response_head(std::string_view head) {
  HttpHead h;
  auto eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return make_error(Errc::invalid, "the member's answer is not HTTP/1.x");
  }
  std::string_view code = status_line.substr(9, 3);
  auto [p, ec] = std::from_chars(code.data(), code.data() + 3, h.status);
  if (ec != std::errc() || p != code.data() + 3 || h.status < 100 || h.status > 599) {
    return make_error(Errc::invalid, "bad HTTP status from the member");
  }
  std::size_t count = 0;
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    if (line.empty()) break;
    if (++count > kMaxResponseHeaders) return make_error(Errc::too_large, "too many headers");
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return make_error(Errc::invalid, "a malformed header from the member");
    }
    std::string name = lower(line.substr(0, colon));
    std::string value(trim(line.substr(colon + 1)));
    if (h.headers.count(name)) {
      // Framing headers twice would be ambiguous; others are joined as HTTP allows.
      if (name == "content-length" || name == "transfer-encoding" || name == "content-range") {
        return make_error(Errc::invalid, "the member sent " + name + " twice");
      }
      h.headers[name] += ", " + value;
    } else {
      h.headers.emplace(std::move(name), std::move(value));
    }
  }
  return h;
}

Result<HttpHead> http_get(ByteStream& stream, std::string_view path,
                          std::optional<std::uint64_t> range_from, std::uint64_t max_body,
                          const std::function<Status(const HttpHead&)>& on_head,
                          const BodySink& sink) {
  if (path.empty() || path.front() != '/' ||
      path.find_first_of(" \r\n\t") != std::string_view::npos) {
    return make_error(Errc::invalid, "bad request path");
  }
  std::string req = "GET " + std::string(path) +
                    " HTTP/1.1\r\nHost: mesh\r\nUser-Agent: mesh-updater\r\n"
                    "Accept-Encoding: identity\r\nConnection: close\r\n";
  if (range_from) req += "Range: bytes=" + std::to_string(*range_from) + "-\r\n";
  req += "\r\n";
  if (!stream.write(req))
    return make_error(Errc::network, "sending the request to the member failed");

  Reader r(stream);
  auto raw = r.until("\r\n\r\n", kMaxResponseHead, "response head");
  if (!raw) return raw.error();
  auto head = parse_response_head(std::string_view(*raw).substr(0, raw->size() - 2));
  if (!head) return head.error();
  if (on_head) {
    if (auto st = on_head(*head); !st) return st.error();
  }
  std::uint64_t total = 0;
  std::string te = lower(head->header("transfer-encoding"));
  std::string cl = head->header("content-length");
  Status body;
  if (!te.empty()) {
    if (te != "chunked") return make_error(Errc::invalid, "unsupported transfer-encoding " + te);
    body = chunked_body(r, &total, max_body, sink);
  } else if (!cl.empty()) {
    std::uint64_t len = 0;
    auto [p, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), len);
    if (ec != std::errc() || p != cl.data() + cl.size()) {
      return make_error(Errc::invalid, "bad content-length from the member");
    }
    if (len > max_body) {
      return make_error(Errc::too_large, "the member offers " + std::to_string(len) +
                                             " bytes, over the limit of " +
                                             std::to_string(max_body));
    }
    body = copy_body(r, len, &total, max_body, sink);
  } else {
    body = copy_body(r, std::nullopt, &total, max_body, sink);
  }
  if (!body) return body.error();
  return head;
}

}  // namespace mesh::updater
