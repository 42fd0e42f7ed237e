// The daemon side of the control socket. Each client connection is a Session living on its own
// strand: reads, writes and the responder's posts are serialized there, so chunks and the final
// reply go out in the order the handler produced them, whatever thread it used.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <deque>

#include "mesh/control/control.hpp"
#include "protocol.hpp"

namespace mesh::control {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using Local = asio::local::stream_protocol;
using Strand = asio::strand<asio::io_context::executor_type>;
using Socket = asio::basic_stream_socket<Local, Strand>;
using Acceptor = asio::basic_socket_acceptor<Local, Strand>;

// A slow client must not make the daemon buffer a --follow stream without bound.
constexpr std::size_t kMaxQueuedBytes = 16 << 20;

void set_cloexec(int fd) {
  // Asio does not set it, and the daemon spawns git and CI jobs.
  if (fd >= 0) ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket sock, std::shared_ptr<Registry> registry)
      : strand_(sock.get_executor()),
        sock_(std::move(sock)),
        timer_(strand_),
        registry_(std::move(registry)) {}

  // All of these run on the session's strand.
  void start() {
    timer_.expires_after(kRequestTimeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->close();  // no request line in time
    });
    asio::async_read_until(
        sock_, asio::dynamic_buffer(in_, kMaxLineBytes + 1), '\n',
        [self = shared_from_this()](error_code ec, std::size_t n) { self->on_line(ec, n); });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    gone_ = true;
    error_code ignored;
    timer_.cancel();
    sock_.close(ignored);
  }

  // Immutable after construction, so any thread may read it.
  const Strand& executor() const { return strand_; }

 private:
  void on_line(error_code ec, std::size_t n) {
    timer_.cancel();
    if (closed_) return;
    if (ec == asio::error::not_found) {  // the buffer filled up without a newline
      queue(detail::encode_reply(
                {2, "the request line is longer than " + std::to_string(kMaxLineBytes) + " bytes"}),
            true);
      return;
    }
    if (ec) return close();
    auto call = detail::decode_request(std::string_view(in_.data(), n - 1));
    in_.clear();
    in_.shrink_to_fit();
    if (!call) {
      queue(detail::encode_reply({2, call.error().message}), true);
      return;
    }
    watch();
    registry_->dispatch(std::move(*call), responder());
  }

  // Reads while the handler runs, only to notice a client that went away.
  void watch() {
    sock_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](error_code ec,
                                                                              std::size_t) {
      if (self->closed_) return;
      if (!ec) return self->watch();  // stray bytes: ignore
      // EOF may be a half-close (`nc -N`) that still wants the reply;
      // only a full hang-up (POLLHUP) means nobody is listening.
      pollfd p{self->sock_.native_handle(), POLLOUT, 0};
      if (ec != asio::error::eof || (::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)))) {
        self->close();
      }
    });
  }

  Responder responder() {
    std::weak_ptr<Session> weak = shared_from_this();
    Responder r;
    // Weak: a handler keeping its responder must not keep a dead connection (or a stopped
    // io_context's objects) alive. Once the session is gone these are no-ops.
    r.chunk = [weak](std::string text) {
      if (auto s = weak.lock()) {
        asio::post(s->executor(),
                   [s, text = std::move(text)] { s->queue(detail::encode_chunk(text), false); });
      }
    };
    r.reply = [weak](Reply reply) {
      if (auto s = weak.lock()) {
        asio::post(s->executor(),
                   [s, reply = std::move(reply)] { s->queue(detail::encode_reply(reply), true); });
      }
    };
    r.connected = [weak] {
      auto s = weak.lock();
      return s && !s->gone_.load();
    };
    return r;
  }

  void queue(std::vector<std::string> lines, bool final) {
    if (closed_ || replied_) return;  // after the reply or a hang-up: harmless no-op
    if (final) replied_ = true;
    for (auto& l : lines) {
      queued_bytes_ += l.size();
      out_.push_back(std::move(l));
    }
    if (!final && queued_bytes_ > kMaxQueuedBytes) return close();
    if (!writing_) write_next();
  }

  void write_next() {
    if (out_.empty()) {
      writing_ = false;
      if (replied_) close();  // the final line is out: done
      return;
    }
    writing_ = true;
    asio::async_write(sock_, asio::buffer(out_.front()),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        self->queued_bytes_ -= self->out_.front().size();
                        self->out_.pop_front();
                        if (ec) return self->close();
                        self->write_next();
                      });
  }

  const Strand strand_;
  Socket sock_;
  asio::steady_timer timer_;
  std::shared_ptr<Registry> registry_;
  std::string in_;
  char scratch_[256];
  std::deque<std::string> out_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool replied_ = false;
  bool closed_ = false;
  std::atomic<bool> gone_{false};
};

// The accept loop; lives on its own strand, shared with the pending accept.
struct Core : std::enable_shared_from_this<Core> {
  Core(asio::io_context& io, std::shared_ptr<Registry> registry)
      : io(io),
        acceptor(asio::make_strand(io)),
        retry(acceptor.get_executor()),
        registry(std::move(registry)) {}

  void accept() {
    acceptor.async_accept(
        asio::make_strand(io), [self = shared_from_this()](error_code ec, Socket sock) {
          if (!self->acceptor.is_open()) return;
          if (ec) {
            // E.g. EMFILE: back off instead of spinning.
            self->retry.expires_after(std::chrono::milliseconds(100));
            self->retry.async_wait([self](error_code e) {
              if (!e && self->acceptor.is_open()) self->accept();
            });
            return;
          }
          set_cloexec(sock.native_handle());
          std::erase_if(self->sessions, [](const auto& w) { return w.expired(); });
          if (self->sessions.size() >= kMaxClients) {
            error_code ignored;
            sock.close(ignored);
          } else {
            auto s = std::make_shared<Session>(std::move(sock), self->registry);
            self->sessions.push_back(s);
            asio::post(s->executor(), [s] { s->start(); });
          }
          self->accept();
        });
  }

  void shutdown() {
    error_code ignored;
    acceptor.close(ignored);
    retry.cancel();
    for (auto& w : sessions) {
      if (auto s = w.lock()) asio::post(s->executor(), [s] { s->close(); });
    }
    sessions.clear();
  }

  asio::io_context& io;
  Acceptor acceptor;
  asio::steady_timer retry;
  std::shared_ptr<Registry> registry;
  std::vector<std::weak_ptr<Session>> sessions;
};

class ServerImpl final : public Server {
 public:
  ServerImpl(std::shared_ptr<Core> core, std::filesystem::path path, dev_t dev, ino_t ino)
      : core_(std::move(core)), path_(std::move(path)), dev_(dev), ino_(ino) {}
  ~ServerImpl() override { stop(); }

  void stop() override {
    if (stopped_.exchange(true)) return;
    // Remove the file only if it is still ours: a newer daemon may have replaced a stale one.
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
      ::unlink(path_.c_str());
    }
    auto core = core_;
    asio::post(core->acceptor.get_executor(), [core] { core->shutdown(); });
  }

 private:
  std::shared_ptr<Core> core_;
  std::filesystem::path path_;
  dev_t dev_;
  ino_t ino_;
  std::atomic<bool> stopped_{false};
};

bool fits_sun_path(const std::string& p) {
  return p.size() < sizeof(sockaddr_un{}.sun_path);
}

std::string errno_text(int e) {
  return std::strerror(e);
}

// Is something accepting connections on path? Only ECONNREFUSED counts as "nobody".
Result<bool> someone_listening(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return make_error(Errc::io, "socket: " + errno_text(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int e = errno;
  ::close(fd);
  if (rc == 0 || e == EAGAIN || e == EINPROGRESS) return true;  // EAGAIN: alive, backlog full
  if (e == ECONNREFUSED || e == ENOENT) return false;
  return make_error(Errc::io, path + ": " + errno_text(e));
}

}  // namespace

Result<std::unique_ptr<Server>> Server::start(boost::asio::io_context& io,
                                              const std::filesystem::path& socket_path,
                                              std::shared_ptr<Registry> registry) {
  if (!registry) return make_error(Errc::invalid, "control server without a verb registry");
  const std::string path = socket_path.string();
  if (!fits_sun_path(path)) {
    return make_error(Errc::invalid, path + ": socket path too long (" +
                                         std::to_string(path.size()) + " bytes, the limit is " +
                                         std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + ")");
  }

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error(Errc::exists, path + " exists and is not a socket");
    }
    auto live = someone_listening(path);
    if (!live) return live.error();
    if (*live) return make_error(Errc::exists, "another daemon is listening on " + path);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {  // stale leftover of a crash
      return make_error(Errc::io, path + ": cannot remove the stale socket: " + errno_text(errno));
    }
  }

  auto core = std::make_shared<Core>(io, std::move(registry));
  error_code ec;
  core->acceptor.open(Local(), ec);
  if (ec) return make_error(Errc::io, "control socket: " + ec.message());
  set_cloexec(core->acceptor.native_handle());

  // Bind under a temporary name, chmod, then link() into place: the socket is never reachable
  // with umask permissions, and link() fails instead of replacing a socket that a racing
  // daemon just created.
  static std::atomic<unsigned> counter{0};
  std::string tmp = path + "." + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  if (fits_sun_path(tmp)) {
    ::unlink(tmp.c_str());
    core->acceptor.bind(Local::endpoint(tmp), ec);
    if (ec) return make_error(Errc::io, tmp + ": bind: " + ec.message());
    int rc = ::chmod(tmp.c_str(), 0600);
    int e = errno;
    if (rc == 0) rc = ::link(tmp.c_str(), path.c_str()), e = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
      if (e == EEXIST) return make_error(Errc::exists, "another daemon is listening on " + path);
      return make_error(Errc::io, path + ": " + errno_text(e));
    }
  } else {
    // Too long for the temporary name: bind in place (the root directory is 0700 anyway).
    core->acceptor.bind(Local::endpoint(path), ec);
    if (ec) return make_error(Errc::io, path + ": bind: " + ec.message());
    if (::chmod(path.c_str(), 0600) != 0) {
      int e = errno;
      ::unlink(path.c_str());
      return make_error(Errc::io, path + ": chmod: " + errno_text(e));
    }
  }
  if (::lstat(path.c_str(), &st) != 0) {
    return make_error(Errc::io, path + ": " + errno_text(errno));
  }
  core->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ::unlink(path.c_str());
    return make_error(Errc::io, path + ": listen: " + ec.message());
  }
  asio::post(core->acceptor.get_executor(), [core] { core->accept(); });
  return std::unique_ptr<Server>(new ServerImpl(core, socket_path, st.st_dev, st.st_ino));
}

}  // namespace mesh::control
