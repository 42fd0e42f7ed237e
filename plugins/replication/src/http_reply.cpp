#include "http_reply.hpp"

#include <string>

namespace mesh::repl {
namespace {

template <class F>
bool call(F f) {
  try {
    return f() == 0;
  } catch (...) {
    return false;
  }
}

}  // namespace

void HttpReply::text(unsigned status, std::string_view body, const Headers& extra) {
  std::string msg(body);
  msg += '\n';
  if (extra.empty()) {
    done_ = true;
    result_.status =
        call([&] { return io_.respond(status, "text/plain; charset=utf-8", msg); }) ? status : 0;
    return;
  }
  Headers h{{"Content-Type", "text/plain; charset=utf-8"}};
  h.insert(h.end(), extra.begin(), extra.end());
  if (begin(status, h)) write(msg);
  end(true);
}

bool HttpReply::begin(unsigned status, const Headers& headers) {
  begun_ = true;
  if (!call([&] { return io_.begin(status, headers); })) {
    failed_ = true;
    return false;
  }
  result_.status = status;
  return true;
}

bool HttpReply::write(std::string_view d) {
  if (failed_) return false;
  if (d.empty()) return true;
  if (!call([&] { return io_.write(d); })) failed_ = true;
  return !failed_;
}

void HttpReply::end(bool ok) {
  if (done_) return;
  done_ = true;
  call([&] { return io_.end(ok && !failed_); });
}

void HttpReply::fail(unsigned status, std::string_view body) {
  if (!begun_) {
    text(status, body);
  } else {
    end(false);
  }
}

}  // namespace mesh::repl
