// The streamed side of a connection (Router::try_add_stream): the worker threads' Exchange
// (StreamSlot) runs each read and write as an operation on the session's strand, and
// serve_stream waits until the exchange is over. The Beast body parser and serializer behind
// it are in stream_exchange.cpp.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http/error.hpp>
#include <chrono>

#include "session.hpp"

namespace mesh::http::detail {

namespace bhttp = beast::http;
using std::chrono::milliseconds;

asio::awaitable<void> Session::op_read(std::shared_ptr<Session> self, std::uint64_t seq, char* out,
                                       std::size_t cap, std::promise<ReadOutcome> done) {
  done.set_value(co_await self->stream_read(seq, out, cap));
}

asio::awaitable<void> Session::op_begin(std::shared_ptr<Session> self, std::uint64_t seq,
                                        unsigned status,
                                        std::vector<std::pair<std::string, std::string>> headers,
                                        std::promise<Status> done) {
  done.set_value(co_await self->stream_begin(seq, status, std::move(headers)));
}

asio::awaitable<void> Session::op_write(std::shared_ptr<Session> self, std::uint64_t seq,
                                        std::string_view data, std::promise<Status> done) {
  done.set_value(co_await self->stream_write(seq, data));
}

asio::awaitable<void> Session::op_end(std::shared_ptr<Session> self, std::uint64_t seq, bool ok,
                                      std::promise<Status> done) {
  done.set_value(co_await self->stream_end(seq, ok));
}

asio::awaitable<void> Session::op_respond(std::shared_ptr<Session> self, std::uint64_t seq,
                                          Response r, std::promise<Status> done) {
  done.set_value(co_await self->stream_respond(seq, std::move(r)));
}

void Session::stream_abandoned(std::uint64_t seq) {
  if (!stream_ || stream_->seq != seq) return;
  auto& st = *stream_;
  st.abandoned = true;
  if (st.begun && !st.ended) st.ended = true;  // broken off: st.clean stays false
  wake_.cancel();
}

asio::awaitable<bool> Session::serve_stream(Request req, StreamHandler handler,
                                            std::size_t max_body) {
  // Each read and write sets its own timeout; waiting for the workers has none.
  raw().expires_never();
  ++seq_;
  stream_.emplace();
  auto& st = *stream_;
  st.seq = seq_;
  st.io = std::make_unique<detail::BodyStream>(std::move(*parser_), max_body);
  parser_.reset();
  {
    auto slot = std::make_shared<StreamSlot>(weak_from_this(), strand_, seq_);
    try {
      handler(std::move(req), std::move(slot));
    } catch (const std::exception& e) {
      spdlog::error("http: stream handler failed: {}", e.what());
      st.abandoned = true;  // a 500, and any copy it kept gets Errc::state
    } catch (...) {
      spdlog::error("http: stream handler failed with an unknown exception");
      st.abandoned = true;
    }
  }
  // Until the response is over (or abandoned) and no operation is on the wire. A broken-off
  // response closes the socket at once, which also ends a read still waiting for the client.
  bool broken = false;
  for (;;) {
    if (st.ended && !st.clean && !broken && !closing_) {
      transport_.close();
      broken = true;
    }
    if ((closing_ || st.ended || st.abandoned) && !st.reading && !st.writing) break;
    wake_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_.async_wait(use_tuple);
  }
  st.over = true;
  const bool body_done = !st.body_error && st.io->body_done();
  bool keep = false;
  if (closing_ || broken) {
    keep = false;
  } else if (!st.ended) {
    // Abandoned before anything was sent: like a dropped Responder, unless the body already
    // told what went wrong.
    Response r = Response::text(500, "the handler did not answer\n");
    if (st.body_error && st.body_error->code == Errc::limit) {
      r = Response::text(413, "request body too large\n");
    } else if (st.body_error && st.body_error->code == Errc::invalid) {
      r = Response::text(400, "malformed request body\n");
    }
    keep = co_await write_response(std::move(r), keep_alive_ && body_done, body_done);
  } else if (!body_done) {
    must_drain_ = true;  // the rest of the body is still coming: close after draining
  } else {
    keep = st.keep_alive;
  }
  stream_.reset();
  co_return keep;
}

// Why an operation of request `seq` cannot run (on the strand).
std::optional<Error> Session::refused(std::uint64_t seq) const {
  if (closing_) return make_error(Errc::io, "the connection was closed");
  if (!stream_ || stream_->seq != seq || stream_->over) {
    return make_error(Errc::state, "the exchange is over");
  }
  return std::nullopt;
}

asio::awaitable<ReadOutcome> Session::stream_read(std::uint64_t seq, char* out, std::size_t cap) {
  if (auto e = refused(seq)) co_return *e;
  auto& st = *stream_;
  if (st.body_error) co_return *st.body_error;
  if (st.io->body_done()) co_return ReadOutcome(0, true);
  if (cap == 0) co_return make_error(Errc::invalid, "read() needs room for at least one byte");
  st.reading = true;
  raw().expires_after(milliseconds(limits().body_timeout_ms));
  auto [ec, n] = co_await st.io->read(transport_, buffer_, out, cap);
  st.reading = false;
  wake_.cancel();
  if (!ec) co_return ReadOutcome(n, st.io->body_done());
  Error err;
  if (ec == bhttp::error::body_limit) {
    spdlog::info("http: {}: streamed request body over the limit", remote_);
    err = make_error(Errc::limit, "the request body is over the route's limit");
  } else if (closing_) {
    err = make_error(Errc::io, "the connection was closed");
  } else if (ec == beast::error::timeout) {
    err = make_error(Errc::io, "timed out reading the request body");
  } else if (is_parse_error(ec) && ec != bhttp::error::end_of_stream &&
             ec != bhttp::error::partial_message) {
    spdlog::info("http: {}: malformed request body: {}", remote_, ec.message());
    err = make_error(Errc::invalid, "malformed request body: " + ec.message());
  } else {
    err = make_error(Errc::io, "the client went away: " + ec.message());
  }
  st.body_error = err;
  co_return err;
}

asio::awaitable<Status> Session::stream_begin(
    std::uint64_t seq, unsigned status, std::vector<std::pair<std::string, std::string>> headers) {
  if (auto e = refused(seq)) co_return *e;
  auto& st = *stream_;
  if (st.begun) co_return make_error(Errc::state, "the response has already begun");
  if (status < 200 || status > 999) {
    co_return make_error(Errc::invalid, "invalid status " + std::to_string(status));
  }
  bhttp::response_header<> h;
  h.version(version_ == 10 ? 10 : 11);
  h.result(status);
  bool keep_alive = keep_alive_;
  copy_headers(headers, h, keep_alive);
  h.set(bhttp::field::server, "mesh");
  st.begun = true;
  st.writing = true;
  raw().expires_after(milliseconds(limits().body_timeout_ms));
  auto ec = co_await st.io->begin(transport_, std::move(h), keep_alive, head_);
  st.writing = false;
  wake_.cancel();
  if (ec) {
    spdlog::debug("http: {}: writing a streamed response header: {}", remote_, ec.message());
    st.ended = true;
    co_return make_error(Errc::io, "the client went away: " + ec.message());
  }
  st.keep_alive = keep_alive && !st.io->need_eof();
  co_return Status();
}

asio::awaitable<Status> Session::stream_write(std::uint64_t seq, std::string_view data) {
  if (auto e = refused(seq)) co_return *e;
  auto& st = *stream_;
  if (!st.begun) co_return make_error(Errc::state, "write() before begin()");
  if (st.ended) co_return make_error(Errc::state, "the response has ended");
  if (data.empty()) co_return Status();
  st.writing = true;
  raw().expires_after(milliseconds(limits().body_timeout_ms));
  auto ec = co_await st.io->write(transport_, data);
  st.writing = false;
  wake_.cancel();
  if (ec) {
    spdlog::debug("http: {}: writing a streamed response: {}", remote_, ec.message());
    st.ended = true;
    co_return make_error(Errc::io, "the client went away: " + ec.message());
  }
  co_return Status();
}

asio::awaitable<Status> Session::stream_end(std::uint64_t seq, bool ok) {
  if (auto e = refused(seq)) co_return *e;
  auto& st = *stream_;
  if (st.ended) co_return make_error(Errc::state, "the response has already ended");
  if (!ok) {
    st.begun = true;
    st.ended = true;  // not clean: serve_stream closes the connection
    wake_.cancel();
    co_return Status();
  }
  if (!st.begun) {
    auto sent = co_await stream_answer(st, Response::text(500, "the handler did not answer\n"));
    if (!sent) co_return sent;
    co_return make_error(Errc::state, "end() without begin(): answered 500");
  }
  st.writing = true;
  raw().expires_after(milliseconds(limits().body_timeout_ms));
  auto ec = co_await st.io->end(transport_);
  st.writing = false;
  st.ended = true;
  st.clean = !ec;
  wake_.cancel();
  if (ec) {
    spdlog::debug("http: {}: ending a streamed response: {}", remote_, ec.message());
    co_return make_error(Errc::io, "the client went away: " + ec.message());
  }
  co_return Status();
}

asio::awaitable<Status> Session::stream_respond(std::uint64_t seq, Response r) {
  if (auto e = refused(seq)) co_return *e;
  auto& st = *stream_;
  if (st.begun) co_return make_error(Errc::state, "the response has already begun");
  co_return co_await stream_answer(st, std::move(r));
}

// A whole response, written like every other (write_response).
asio::awaitable<Status> Session::stream_answer(StreamState& st, Response r) {
  st.begun = true;
  st.writing = true;
  // Announce keep-alive only if the body is (or may yet be) read to its end.
  const bool may_keep = keep_alive_ && (st.io->body_done() || st.reading);
  bool sent = false;
  st.keep_alive = co_await write_response(std::move(r), may_keep, true, &sent);
  st.writing = false;
  st.ended = true;
  st.clean = sent;
  wake_.cancel();
  if (!sent) co_return make_error(Errc::io, "the client went away");
  co_return Status();
}

StreamSlot::~StreamSlot() {
  if (session_.expired()) return;
  asio::post(strand_, [weak = session_, seq = seq_] {
    if (auto s = weak.lock()) s->stream_abandoned(seq);
  });
}

bool StreamSlot::on_strand() const {
  const auto* strand = strand_.target<asio::strand<asio::io_context::executor_type>>();
  return strand && strand->running_in_this_thread();
}

template <class R, class MakeOp>
R StreamSlot::call(std::atomic<bool>& busy, std::string_view what, MakeOp make_op) {
  // Waiting on the strand for work queued behind us on the same strand would never return.
  if (on_strand()) {
    return R(make_error(Errc::state, "Exchange calls block: make them from a thread of your own"));
  }
  if (busy.exchange(true)) {
    return R(make_error(Errc::state, "another " + std::string(what) + " is in progress"));
  }
  struct Idle {
    std::atomic<bool>& busy;
    ~Idle() { busy = false; }
  } idle{busy};
  auto session = session_.lock();
  if (!session) return R(make_error(Errc::io, "the connection is gone"));
  std::promise<R> promise;
  auto future = promise.get_future();
  if (!session->spawn(make_op(session, std::move(promise)))) {
    return R(make_error(Errc::io, "the connection was closed"));
  }
  session.reset();  // the operation holds it while it runs; we must not keep it alive
  try {
    return future.get();
  } catch (const std::future_error&) {
    return R(make_error(Errc::io, "the connection is gone"));
  }
}

Result<std::size_t> StreamSlot::read(char* buf, std::size_t cap) {
  if (eof_) return std::size_t{0};
  auto r = call<ReadOutcome>(reading_, "read", [&](std::shared_ptr<Session> s, auto promise) {
    return Session::op_read(std::move(s), seq_, buf, cap, std::move(promise));
  });
  if (r.body_done) eof_ = true;
  return std::move(r.n);
}

namespace {
Error finished_error() {
  return make_error(Errc::state, "the response has ended");
}
}  // namespace

Status StreamSlot::begin(unsigned status,
                         std::vector<std::pair<std::string, std::string>> headers) {
  if (finished_) return finished_error();
  return call<Status>(writing_, "write", [&](std::shared_ptr<Session> s, auto promise) {
    return Session::op_begin(std::move(s), seq_, status, std::move(headers), std::move(promise));
  });
}

Status StreamSlot::write(std::string_view data) {
  if (finished_) return finished_error();
  if (data.empty()) return {};
  return call<Status>(writing_, "write", [&](std::shared_ptr<Session> s, auto promise) {
    return Session::op_write(std::move(s), seq_, data, std::move(promise));
  });
}

Status StreamSlot::end(bool ok) {
  if (finished_) return finished_error();
  return call<Status>(writing_, "write", [&](std::shared_ptr<Session> s, auto promise) {
    finished_ = true;
    return Session::op_end(std::move(s), seq_, ok, std::move(promise));
  });
}

Status StreamSlot::respond(Response r) {
  if (finished_) return finished_error();
  return call<Status>(writing_, "write", [&](std::shared_ptr<Session> s, auto promise) {
    finished_ = true;
    return Session::op_respond(std::move(s), seq_, std::move(r), std::move(promise));
  });
}

}  // namespace mesh::http::detail
