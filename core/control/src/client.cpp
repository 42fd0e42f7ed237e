// The CLI side: plain blocking POSIX sockets with poll() for one overall deadline, so the
// `mesh` binary does not need Asio.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "mesh/control/control.hpp"
#include "protocol.hpp"

namespace mesh::control {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Error timed_out(std::chrono::milliseconds timeout) {
  return make_error(Errc::io, "timed out after " + std::to_string(timeout.count()) +
                                  " ms waiting for the mesh daemon");
}

// Waits for `events` until the deadline. False on timeout.
Result<bool> wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 60'000)));
    if (rc > 0) return true;  // ready, or an error the next read/write will report
    if (rc < 0 && errno != EINTR)
      return make_error(Errc::io, std::string("poll: ") + std::strerror(errno));
  }
}

}  // namespace

Result<Reply> call(const std::filesystem::path& socket_path, const Call& call,
                   std::chrono::milliseconds timeout,
                   const std::function<void(const std::string&)>& on_chunk) {
  const auto deadline = Clock::now() + timeout;
  const std::string path = socket_path.string();
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return make_error(Errc::invalid, path + ": socket path too long");
  }
  auto request = detail::encode_request(call);
  if (!request) return request.error();
  std::string out = std::move(*request) + "\n";

  Fd sock;
  sock.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (sock.fd < 0) return make_error(Errc::io, std::string("socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // A non-blocking unix connect completes at once or fails with EAGAIN (backlog full): retry.
  while (::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    if (e == ENOENT || e == ECONNREFUSED) {
      return make_error(Errc::not_found, "no mesh daemon is listening on " + path);
    }
    if (e != EAGAIN && e != EINTR) return make_error(Errc::io, path + ": " + std::strerror(e));
    if (Clock::now() >= deadline) return timed_out(timeout);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  for (std::size_t done = 0; done < out.size();) {
    ssize_t n = ::send(sock.fd, out.data() + done, out.size() - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return make_error(Errc::io, path + ": send: " + std::strerror(errno));
    auto ready = wait_for(sock.fd, POLLOUT, deadline);
    if (!ready) return ready.error();
    if (!*ready) return timed_out(timeout);
  }

  Reply reply;
  std::string buf;
  std::size_t scanned = 0;  // bytes of buf known to hold no newline
  char tmp[64 * 1024];
  for (;;) {
    // Handle every complete line in the buffer.
    for (auto nl = buf.find('\n', scanned); nl != std::string::npos; nl = buf.find('\n')) {
      auto line = detail::decode_reply_line(std::string_view(buf.data(), nl));
      buf.erase(0, nl + 1);
      scanned = 0;
      if (!line) return line.error();
      switch (line->kind) {
        case detail::ReplyLine::chunk:
          if (on_chunk) on_chunk(line->text);
          break;
        case detail::ReplyLine::part:
        case detail::ReplyLine::final:
          if (reply.output.size() + line->text.size() > kMaxOutputBytes) {
            return make_error(Errc::limit, "the daemon's reply is larger than " +
                                               std::to_string(kMaxOutputBytes) + " bytes");
          }
          reply.output += line->text;
          if (line->kind == detail::ReplyLine::final) {
            reply.exit_code = line->exit_code;
            return reply;
          }
          break;
      }
    }
    scanned = buf.size();
    if (buf.size() > kMaxLineBytes) {
      return make_error(Errc::limit, "a reply line from the daemon exceeds " +
                                         std::to_string(kMaxLineBytes) + " bytes");
    }
    ssize_t n = ::recv(sock.fd, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf.append(tmp, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return make_error(Errc::io, "the mesh daemon closed the connection without a reply");
    } else if (errno == EAGAIN) {
      auto ready = wait_for(sock.fd, POLLIN, deadline);
      if (!ready) return ready.error();
      if (!*ready) return timed_out(timeout);
    } else if (errno != EINTR) {
      return make_error(Errc::io, path + ": recv: " + std::strerror(errno));
    }
  }
}

}  // namespace mesh::control
