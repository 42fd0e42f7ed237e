#include "body_pump.hpp"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <vector>

#include "gunzip.hpp"

namespace mesh::repl {
namespace {

constexpr std::size_t kIoBuf = 64 * 1024;

bool write_all(int fd, std::string_view d) {
  while (!d.empty()) {
    ssize_t n = ::write(fd, d.data(), d.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    d.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void BodyPump::run() {
  // A write to a pipe whose reader died raises SIGPIPE in the writing thread; keep it pending
  // here (it dies with the thread) instead of relying on the daemon ignoring it.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);

  auto deliver = [this](std::string_view d) {
    bytes += d.size();
    if (bytes > max_bytes) {
      failure = PumpFailure::too_large;
      return false;
    }
    if (sniff) sniffer.feed(d);
    if (!write_all(to_git.get(), d)) {
      git_closed = true;
      return false;
    }
    progress->store(steady_now_ns(), std::memory_order_relaxed);
    return true;
  };
  std::optional<Gunzip> gz;
  if (gzip) gz.emplace();
  // One piece of the body as it came from the client; false: stop.
  auto consume = [&](std::string_view in) {
    if (gz) {
      bool refused = false;
      if (!gz->feed(in, deliver, &refused)) {
        if (!refused) failure = PumpFailure::bad_encoding;
        return false;
      }
      return true;
    }
    return deliver(in);
  };
  std::vector<char> buf(kIoBuf);
  bool more = prefix.empty() || consume(prefix);
  while (more) {
    std::size_t got = 0;
    if (io->read(buf.data(), buf.size(), &got) != 0) {
      failure = PumpFailure::client_gone;
      break;
    }
    if (got == 0) {
      if (gz && !gz->complete()) failure = PumpFailure::bad_encoding;
      break;
    }
    progress->store(steady_now_ns(), std::memory_order_relaxed);
    more = consume(std::string_view(buf.data(), got));
  }
  to_git.reset();  // EOF for git
  if (failure != PumpFailure::none) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake, &one, sizeof one);
  }
}

bool drain_body(HttpIo& io, std::uint64_t max_raw) {
  std::vector<char> buf(kIoBuf);
  std::uint64_t total = 0;
  for (;;) {
    std::size_t got = 0;
    if (io.read(buf.data(), buf.size(), &got) != 0) return false;
    if (got == 0) return true;
    total += got;
    if (total > max_raw) return false;
  }
}

}  // namespace mesh::repl
