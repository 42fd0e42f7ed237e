// Running git for one request: the child, both bodies streamed, and the answer's end.
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "git_exchange.hpp"
#include "git_process.hpp"
#include "pkt_line.hpp"
#include "smart_http.hpp"

namespace mesh::repl::detail {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kIoBuf = 64 * 1024;

std::string plural(std::size_t n, std::string_view what) {
  return std::to_string(n) + " " + std::string(what) + (n == 1 ? "" : "s");
}

}  // namespace

bool Exchange::start_response() {
  std::string type = "application/x-" + std::string(service_name(service_)) +
                     (advertise_ ? "-advertisement" : "-result");
  return reply_.begin(200, git_headers(std::move(type))) && reply_.write(prefix_);
}

// Forwards git's output. With holdback_, the last 4 bytes stay back until git has exited: they
// are the final flush when git used a sideband, and the "remote:" lines go before it.
bool Exchange::emit(std::string_view data) {
  if (!reply_.begun() && !start_response()) return false;
  if (!holdback_) return reply_.write(data);
  if (service_ == Service::upload_pack) tracker_.feed(data);
  std::string all = held_;
  all.append(data);
  if (all.size() <= kFlushPkt.size()) {
    held_ = std::move(all);
    return true;
  }
  std::size_t cut = all.size() - kFlushPkt.size();
  held_ = all.substr(cut);
  all.resize(cut);
  return reply_.write(all);
}

RunOutcome Exchange::run_git(bool advertise, ProcessSlots::Slot& slot) {
  RunOutcome out;
  ProcessSpec spec;
  spec.path = st_.git_path;
  spec.argv = git_argv(advertise);
  spec.env = child_env();
  spec.pipe_stdin = !advertise;

  std::string err;
  auto child = ChildProcess::spawn(spec, &err);
  if (!child) {
    out.wait_status = -1;
    out.stderr_tail = err;
    return out;
  }
  const auto start = Clock::now();
  std::atomic<std::int64_t> progress{steady_now_ns()};

  BodyPump pump;
  std::thread pump_thread;
  Fd wake;
  if (!advertise) {
    wake.reset(::eventfd(0, EFD_CLOEXEC));
    pump.io = &io_;
    pump.to_git = child->take_stdin();
    pump.wake = wake.get();
    pump.gzip = gzip_;
    pump.sniff = service_ == Service::receive_pack;
    pump.max_bytes = opt_.max_request_bytes;
    pump.prefix = std::move(body_head_);
    pump.progress = &progress;
    if (!wake) {
      out.stderr_tail = "eventfd failed";
      child->terminate(opt_.kill_grace);
      return out;
    }
    try {
      pump_thread = std::thread([&pump] { pump.run(); });
    } catch (const std::exception& e) {
      out.stderr_tail = std::string("thread: ") + e.what();
      child->terminate(opt_.kill_grace);
      return out;
    }
  }

  // Whatever leaves this function early (an exception): stop git, then the pump.
  struct JoinGuard {
    std::unique_ptr<ChildProcess>& child;
    std::thread& thread;
    std::chrono::milliseconds grace;
    ~JoinGuard() {
      if (!thread.joinable()) return;
      if (child) child->terminate(grace);
      thread.join();
    }
  } guard{child, pump_thread, opt_.kill_grace};
  Fd from_git = child->take_stdout();
  std::vector<char> buf(kIoBuf);
  bool eof = false;
  for (;;) {
    auto deadline = Clock::time_point::max();
    auto last = Clock::time_point(
        std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(progress.load())));
    if (opt_.idle_timeout.count() > 0) deadline = std::min(deadline, last + opt_.idle_timeout);
    if (opt_.max_duration.count() > 0) deadline = std::min(deadline, start + opt_.max_duration);
    int timeout_ms = -1;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
    }
    struct pollfd p[2] = {{from_git.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
    int pr = ::poll(p, wake ? 2 : 1, timeout_ms);
    if (pr < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (wake && (p[1].revents & POLLIN)) break;  // the pump failed: stop git
    if (pr == 0) {
      if (Clock::now() >= deadline) {
        out.timed_out = true;
        break;
      }
      continue;  // the pump made progress meanwhile
    }
    ssize_t n = ::read(from_git.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    progress.store(steady_now_ns(), std::memory_order_relaxed);
    out.bytes_out += static_cast<std::size_t>(n);
    if (!emit(std::string_view(buf.data(), static_cast<std::size_t>(n)))) {
      out.client_gone = true;
      break;
    }
  }
  from_git.reset();

  // Normally git closes stdout as it exits; anything else gets SIGTERM, then SIGKILL.
  if (!eof) {
    child->terminate(opt_.kill_grace);
  } else {
    auto wait =
        opt_.idle_timeout.count() > 0 ? Clock::now() + opt_.idle_timeout : Clock::time_point::max();
    if (!child->wait_exit(wait)) {
      out.timed_out = true;
      child->terminate(opt_.kill_grace);
    }
  }
  out.wait_status = child->reap();
  out.stderr_tail = child->stderr_tail(2048);
  child.reset();
  slot.release();
  // git is gone, so a pump blocked writing to it returns; one blocked in io.read waits for
  // the client, which the HttpIo bounds with its own timeout.
  if (pump_thread.joinable()) pump_thread.join();

  out.pump_failure = pump.failure;
  if (pump.failure == PumpFailure::client_gone) out.client_gone = true;
  out.sideband = pump.sniffer.sideband();
  out.commands = pump.sniffer.commands();
  out.report_status = pump.sniffer.report_status();
  out.command_list = pump.sniffer.list();
  out.pack_on_sideband = tracker_.pack_on_sideband();
  out.bytes_in = pump.bytes;
  out.exited_ok =
      eof && !out.timed_out && pump.failure == PumpFailure::none && out.wait_status == 0;
  out.held = std::move(held_);
  return out;
}

void Exchange::finish(const RunOutcome& out, const AfterReceive* hook) {
  std::string updates_note;
  if (service_ == Service::receive_pack && !advertise_) {
    updates_note = ", " + plural(result_.updates.size(), "ref") + " updated";
  }
  if (out.client_gone) {
    reply_.end(false);
    log("client went away (" + std::to_string(out.bytes_in) + " bytes in, " +
        std::to_string(out.bytes_out) + " out)" + updates_note);
    return;
  }
  switch (out.pump_failure) {
    case PumpFailure::too_large:
      refuse_oversize(out, updates_note);
      return;
    case PumpFailure::bad_encoding:
      reply_.fail(400, "corrupt gzip request body");
      log("corrupt gzip request body" + updates_note);
      return;
    default:
      break;
  }
  if (out.timed_out) {
    reply_.fail(504, "git timed out");
    log("timed out" + updates_note);
    return;
  }
  std::string git_said = one_line(out.stderr_tail);
  if (!out.exited_ok && !reply_.begun()) {
    if (out.wait_status == -1) {
      reply_.text(500, std::string(service_name(service_)) + " could not start");
      log("spawn failed" + (git_said.empty() ? "" : ": " + git_said) + updates_note);
      return;
    }
    // git ran and gave up before answering anything: it could not read the request (garbage,
    // a truncated body). That is the client's request, not this node, failing.
    reply_.text(400, "git could not read the request" +
                         (git_said.empty() ? std::string() : ": " + git_said));
    log("bad request: git " + describe_wait_status(out.wait_status) +
        (git_said.empty() ? "" : ": " + git_said) + updates_note);
    return;
  }
  if (!reply_.begun() && !start_response()) {
    reply_.end(false);
    log("client went away" + updates_note);
    return;
  }
  // Once output went out, it goes out whole: git's own error packets (ERR, sideband 3,
  // "unpack error") tell the client more than a truncated response would.
  if (hook && out.exited_ok && out.sideband != 0 && out.held == kFlushPkt &&
      !result_.updates.empty()) {
    std::string msg;
    try {
      msg = (*hook)(result_.updates);
    } catch (const std::exception& e) {
      msg.clear();
      git_said += std::string(" after_receive threw: ") + e.what();
    } catch (...) {
      msg.clear();
    }
    if (!msg.empty()) reply_.write(sideband_message(std::move(msg), out.sideband));
  }
  if (service_ == Service::upload_pack && !advertise_ && out.exited_ok && out.held == kFlushPkt &&
      out.pack_on_sideband && !req_.fetch_notice.empty()) {
    reply_.write(sideband_message(req_.fetch_notice, 1));
  }
  reply_.write(out.held);
  reply_.end(true);
  if (out.exited_ok && out.commands && result_.updates.empty()) {
    // receive-pack exits 0 when it refuses every command (fsck failure, deleting the current
    // branch...): the client got the reasons in its report; the log must not say "ok".
    result_.refused = true;
    log("refused: the push changed no ref (" + std::to_string(out.bytes_in) + " bytes in" +
        (git_said.empty() ? "" : "; git said: " + git_said) + ")");
  } else if (out.exited_ok) {
    log("ok, " + std::to_string(out.bytes_in) + " bytes in, " + std::to_string(out.bytes_out) +
        " out" + updates_note + (result_.created ? " (created)" : ""));
  } else {
    log("git " + describe_wait_status(out.wait_status) + (git_said.empty() ? "" : ": " + git_said) +
        updates_note);
  }
}

void Exchange::refuse_oversize(const RunOutcome& out, const std::string& updates_note) {
  const std::string limit = std::to_string(opt_.max_request_bytes);
  const std::string reason = "push over this node's max_push_bytes (" + limit + " bytes)";
  log("request body over " + limit + " bytes" + updates_note);
  // Only a receive-pack whose commands are known gets the report; and only once the client has
  // sent its whole body (up to as much again, at least 1 GiB), since git reads no answer
  // before that.
  if (service_ != Service::receive_pack || out.command_list.empty() ||
      !drain_body(io_, oversize_drain_bytes(opt_.max_request_bytes))) {
    reply_.fail(413, "request body over " + limit + " bytes (decompressed)");
    return;
  }
  std::string report;
  if (out.report_status) {
    report = *pkt_line("unpack " + reason + "\n");
    for (const auto& c : out.command_list) report += *pkt_line("ng " + c.ref + " " + reason + "\n");
    report += kFlushPkt;
  }
  std::string body;
  if (out.sideband != 0) {
    const std::size_t chunk = (out.sideband == 2 ? kPktMax : 1000) - 5;
    for (std::size_t i = 0; i < report.size(); i += chunk) {
      body += *pkt_line("\x01" + report.substr(i, chunk));
    }
    body += sideband_message("mesh: push refused: it is larger than this node's limit of " + limit +
                                 " bytes ([plugins.replication] max_push_bytes); push fewer "
                                 "commits at a time or raise the limit",
                             out.sideband);
    body += kFlushPkt;
  } else {
    body = report;
  }
  if (!reply_.begun() && !start_response()) return reply_.end(false);
  reply_.write(out.held);
  reply_.write(body);
  reply_.end(true);
  result_.refused = true;
}

}  // namespace mesh::repl::detail
