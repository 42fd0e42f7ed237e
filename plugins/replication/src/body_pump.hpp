// Feeds a request body to git's stdin on a thread of its own, so that git can write (and the
// serving thread can forward) its output while it still reads: a pipe deadlock otherwise.
// gzip bodies are decoded on the way, the decoded size is capped, and the receive-pack
// command list is sniffed as it passes.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "git_process.hpp"
#include "git_service.hpp"
#include "receive_commands.hpp"

namespace mesh::repl {

enum class PumpFailure { none, client_gone, too_large, bad_encoding };

// Nanoseconds on the steady clock: the progress stamp both threads update.
std::int64_t steady_now_ns();

struct BodyPump {
  HttpIo* io = nullptr;
  Fd to_git;      // closed (EOF for git) when the body ends or the pump stops
  int wake = -1;  // eventfd (not owned): signalled on failure, so the serve thread stops waiting
  bool gzip = false;
  bool sniff = false;
  std::uint64_t max_bytes = 0;
  std::atomic<std::int64_t>* progress = nullptr;
  std::string prefix;  // body bytes the serving thread already read (the probe check)

  // Results, read after the thread was joined.
  PumpFailure failure = PumpFailure::none;
  bool git_closed = false;  // git stopped reading (EPIPE): not the client's fault
  std::uint64_t bytes = 0;  // decompressed
  CommandSniffer sniffer;

  void run();
};

// Reads and throws away the rest of a request body (after the cap was hit, so that the client
// reads the answer): at most `max_raw` more bytes. False if the client went away or sent more.
bool drain_body(HttpIo& io, std::uint64_t max_raw);

}  // namespace mesh::repl
