// Internal to mesh_http: one accepted connection. session.cpp serves its requests one after the
// other (parse, access, route, body, handler, response); stream_session.cpp moves the body and
// the response of a streamed exchange (Router::try_add_stream) for the worker threads that
// drive it through an Exchange.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server_state.hpp"
#include "stream_exchange.hpp"
#include "transport.hpp"

namespace mesh::http::detail {

// The handler's side of one buffered request. Copies of the Responder share it; answering twice
// is a no-op, and if every copy is dropped unanswered the client gets a 500 instead of a hang.
class ReplySlot {
 public:
  ReplySlot(std::weak_ptr<Session> session, asio::any_io_executor strand, std::uint64_t seq)
      : session_(std::move(session)), strand_(std::move(strand)), seq_(seq) {}
  ~ReplySlot();
  void answer(Response r);

 private:
  std::weak_ptr<Session> session_;
  asio::any_io_executor strand_;
  std::uint64_t seq_;
  std::atomic<bool> answered_{false};
};

// What a streamed read hands back: the bytes, and whether the body ended with them (so that the
// next read() can say 0 without asking the connection, which may have moved on by then).
struct ReadOutcome {
  ReadOutcome(Error e) : n(std::move(e)) {}
  ReadOutcome(std::size_t bytes, bool done) : n(bytes), body_done(done) {}
  Result<std::size_t> n;
  bool body_done = false;
};

// The worker's side of one streamed exchange. Each call runs one operation on the session's
// strand and blocks on a future. The promise lives in that operation's coroutine frame, so if
// the session dies first (the frame is destroyed unfinished) the promise breaks and the caller
// gets Errc::io instead of waiting forever. Dropping the last reference tells the session.
class StreamSlot final : public Exchange {
 public:
  StreamSlot(std::weak_ptr<Session> session, asio::any_io_executor strand, std::uint64_t seq)
      : session_(std::move(session)), strand_(std::move(strand)), seq_(seq) {}
  ~StreamSlot() override;

  Result<std::size_t> read(char* buf, std::size_t cap) override;
  Status begin(unsigned status, std::vector<std::pair<std::string, std::string>> headers) override;
  Status write(std::string_view data) override;
  Status end(bool ok) override;
  Status respond(Response r) override;

 private:
  // Runs make_op(session, promise) on the strand and waits for the promise.
  template <class R, class MakeOp>
  R call(std::atomic<bool>& busy, std::string_view what, MakeOp make_op);
  bool on_strand() const;

  std::weak_ptr<Session> session_;
  asio::any_io_executor strand_;
  std::uint64_t seq_;
  std::atomic<bool> reading_{false};
  std::atomic<bool> writing_{false};  // begin, write, end and respond
  std::atomic<bool> eof_{false};      // a read saw the end of the body
  // end() or respond() ran: the answer is final whatever the connection does next.
  std::atomic<bool> finished_{false};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `ticket`: the connection's slot (ConnectionGate), released with the session.
  Session(std::shared_ptr<State> state, tcp::socket socket, tcp::endpoint remote, std::uint64_t id,
          Ticket ticket);
  ~Session();

  void start();
  // Thread-safe: closes the socket on the strand, which ends every pending operation.
  void close();
  // On the strand: the handler's answer for request `seq`.
  void deliver(std::uint64_t seq, Response r);
  // Thread-safe: starts a streamed exchange's operation on the strand; false once close() was
  // called. The lock orders the post before close()'s, so an accepted operation runs (and
  // fails) even while the server stops and the io_context winds down.
  bool spawn(asio::awaitable<void> op);

  // The operations behind StreamSlot (stream_session.cpp). Each holds the session while it
  // runs and fulfils `done`.
  static asio::awaitable<void> op_read(std::shared_ptr<Session> self, std::uint64_t seq, char* out,
                                       std::size_t cap, std::promise<ReadOutcome> done);
  static asio::awaitable<void> op_begin(std::shared_ptr<Session> self, std::uint64_t seq,
                                        unsigned status,
                                        std::vector<std::pair<std::string, std::string>> headers,
                                        std::promise<Status> done);
  static asio::awaitable<void> op_write(std::shared_ptr<Session> self, std::uint64_t seq,
                                        std::string_view data, std::promise<Status> done);
  static asio::awaitable<void> op_end(std::shared_ptr<Session> self, std::uint64_t seq, bool ok,
                                      std::promise<Status> done);
  static asio::awaitable<void> op_respond(std::shared_ptr<Session> self, std::uint64_t seq,
                                          Response r, std::promise<Status> done);
  // On the strand: every Exchange reference of request `seq` is gone.
  void stream_abandoned(std::uint64_t seq);

 private:
  // One streamed exchange (strand only).
  struct StreamState {
    std::uint64_t seq = 0;
    std::unique_ptr<BodyStream> io;
    std::optional<Error> body_error;  // reads fail the same way from then on
    bool reading = false;             // an operation is on the wire
    bool writing = false;
    bool begun = false;  // begin() or a whole response started
    bool ended = false;  // the response is complete (clean) or broken off (!clean)
    bool clean = false;
    bool keep_alive = false;  // what the response announced
    bool abandoned = false;   // no Exchange reference left (or the handler threw)
    bool over = false;        // serve_stream moved on: every further operation fails
  };

  const config::HttpConfig& limits() const { return state_->options.limits; }
  beast::tcp_stream& raw() { return transport_.raw(); }

  // session.cpp
  asio::awaitable<void> run();
  // One request/response exchange. Returns whether the connection may carry another.
  asio::awaitable<bool> serve_one();
  // Writes `r`; returns whether the connection stays open. `clean` says whether the request
  // was fully read (otherwise finish() drains before closing). `sent` tells a write error from
  // a response that just closes.
  asio::awaitable<bool> write_response(Response r, bool keep_alive, bool clean,
                                       bool* sent = nullptr);
  // Half-closes and, after an error answer, drains briefly so the client can read it.
  asio::awaitable<void> finish();

  // stream_session.cpp
  // A streamed exchange: the handler gets the header and an Exchange, and worker threads move
  // the body through StreamSlot's operations while this coroutine waits for the exchange to
  // end. Returns whether the connection may carry another request.
  asio::awaitable<bool> serve_stream(Request req, StreamHandler handler, std::size_t max_body);
  // Why an operation of request `seq` cannot run (on the strand).
  std::optional<Error> refused(std::uint64_t seq) const;
  asio::awaitable<ReadOutcome> stream_read(std::uint64_t seq, char* out, std::size_t cap);
  asio::awaitable<Status> stream_begin(std::uint64_t seq, unsigned status,
                                       std::vector<std::pair<std::string, std::string>> headers);
  asio::awaitable<Status> stream_write(std::uint64_t seq, std::string_view data);
  asio::awaitable<Status> stream_end(std::uint64_t seq, bool ok);
  asio::awaitable<Status> stream_respond(std::uint64_t seq, Response r);
  // A whole response, written like every other (write_response).
  asio::awaitable<Status> stream_answer(StreamState& st, Response r);

  std::shared_ptr<State> state_;
  std::uint64_t id_;
  Ticket ticket_;
  // Until then an untrusted connection must have finished its handshake or first request.
  std::chrono::steady_clock::time_point first_deadline_;
  asio::any_io_executor strand_;
  Transport transport_;
  asio::steady_timer wake_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  std::string remote_;
  bool loopback_ = false;
  std::optional<identity::PublicKey> peer_;
  bool closing_ = false;
  bool first_ = true;
  bool must_drain_ = false;
  bool upgraded_ = false;  // the connection now belongs to a WebSocket link
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
  std::uint64_t seq_ = 0;
  std::optional<Response> reply_;

  std::optional<StreamState> stream_;  // the streamed exchange in progress
  // Guards shut_, which close() sets before it posts, so that spawn() never posts after it.
  std::mutex post_mu_;
  bool shut_ = false;
};

// Copies a handler's headers into `h`, dropping malformed ones and those we set ourselves
// (framing); "Connection: close" clears `keep_alive`.
void copy_headers(const std::vector<std::pair<std::string, std::string>>& headers,
                  beast::http::fields& h, bool& keep_alive);

// Whether a Beast error is a parse error of the request (as opposed to a socket error).
bool is_parse_error(const error_code& ec);

}  // namespace mesh::http::detail
