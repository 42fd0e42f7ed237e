#include "store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "limits.hpp"
#include "names.hpp"

namespace mesh::ci {
namespace fs = std::filesystem;
namespace {

constexpr char kHeader[8] = {'m', 's', 'h', 'c', 'i', 0, 0, 1};
constexpr std::size_t kFixed = 1 + 8 + 8 + 8;
constexpr std::size_t kMaxBody = kFixed + 255 + limits::kEventBytes;

void put64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put32(std::string& out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}
std::uint64_t get(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}
std::uint32_t crc(const char* data, std::size_t len) {
  return static_cast<std::uint32_t>(
      ::crc32(0, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(len)));
}
std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string frame(const StoredEvent& e) {
  std::string body;
  body.push_back(static_cast<char>(e.from.origin.size()));
  body += e.from.origin;
  put64(body, e.from.seq);
  put64(body, e.from.lamport);
  put64(body, e.from.wall_ms);
  body += e.payload;
  std::string out;
  put32(out, static_cast<std::uint32_t>(body.size()));
  out += body;
  put32(out, crc(body.data(), body.size()));
  return out;
}

}  // namespace

namespace journal {

bool append(const fs::path& file, const StoredEvent& e, std::string* error) {
  if (e.from.origin.size() > 255 || e.payload.size() > limits::kEventBytes) {
    *error = "event too large for the journal";
    return false;
  }
  Fd f;
  f.fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (f.fd < 0) {
    *error = errno_text("opening " + file.filename().string());
    return false;
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    *error = errno_text("stat " + file.filename().string());
    return false;
  }
  std::string data = st.st_size == 0 ? std::string(kHeader, sizeof kHeader) : std::string();
  off_t before = st.st_size;
  data += frame(e);
  if (!write_all(f.fd, data) || ::fdatasync(f.fd) != 0) {
    *error = errno_text("writing " + file.filename().string());
    if (::ftruncate(f.fd, before) != 0) {
      // The next read cuts the partial frame off as a torn tail.
    }
    return false;
  }
  return true;
}

bool read(const fs::path& file, std::vector<StoredEvent>* out, std::string* error) {
  Fd f;
  f.fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
  if (f.fd < 0) {
    if (errno == ENOENT) return true;
    *error = errno_text("opening " + file.filename().string());
    return false;
  }
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = errno_text("reading " + file.filename().string());
      return false;
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  if (data.empty()) return true;
  if (data.size() < sizeof kHeader || data.compare(0, sizeof kHeader, kHeader, sizeof kHeader)) {
    if (data.size() < sizeof kHeader &&
        std::string_view(kHeader, data.size()) == std::string_view(data)) {
      return ::ftruncate(f.fd, 0) == 0;  // torn while writing the header
    }
    *error = file.filename().string() + ": not a ci journal";
    return false;
  }
  std::size_t at = sizeof kHeader;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  while (at < data.size()) {
    if (data.size() - at < 4) break;  // torn
    std::size_t len = get(p + at, 4);
    if (len < kFixed || len > kMaxBody) {
      *error = file.filename().string() + ": bad frame length at byte " + std::to_string(at);
      return false;
    }
    if (data.size() - at < 4 + len + 4) break;  // torn
    const char* body = data.data() + at + 4;
    if (get(p + at + 4 + len, 4) != crc(body, len)) {
      if (at + 4 + len + 4 == data.size()) break;  // a torn last frame
      *error = file.filename().string() + ": checksum mismatch at byte " + std::to_string(at);
      return false;
    }
    const auto* b = reinterpret_cast<const unsigned char*>(body);
    std::size_t olen = b[0];
    if (kFixed + olen > len) {
      *error = file.filename().string() + ": bad origin length at byte " + std::to_string(at);
      return false;
    }
    StoredEvent e;
    e.from.origin.assign(body + 1, olen);
    e.from.seq = get(b + 1 + olen, 8);
    e.from.lamport = get(b + 9 + olen, 8);
    e.from.wall_ms = get(b + 17 + olen, 8);
    e.payload.assign(body + kFixed + olen, len - kFixed - olen);
    out->push_back(std::move(e));
    at += 4 + len + 4;
  }
  if (at < data.size() && ::ftruncate(f.fd, static_cast<off_t>(at)) != 0) {
    *error = errno_text("cutting the torn tail of " + file.filename().string());
    return false;
  }
  return true;
}

}  // namespace journal

fs::path Store::run_file(const std::string& run, const char* ext) const {
  return dir_ / "runs" / (run + ext);
}

bool Store::prepare(std::string* error) {
  std::error_code ec;
  fs::create_directories(dir_ / "runs", ec);
  if (ec) {
    *error = "cannot create " + (dir_ / "runs").string() + ": " + ec.message();
    return false;
  }
  return true;
}

bool Store::replay(const std::function<void(const std::string&, const StoredEvent&)>& on_run,
                   const std::function<void(const StoredEvent&)>& on_slot, std::string* error) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir_ / "runs", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() != ".rec") continue;
    std::string run = p.stem().string();
    if (!valid_run_id(run)) continue;
    std::vector<StoredEvent> events;
    if (!journal::read(p, &events, error)) return false;
    for (const auto& e : events) on_run(run, e);
  }
  if (ec) {
    *error = "cannot list " + (dir_ / "runs").string() + ": " + ec.message();
    return false;
  }
  std::vector<StoredEvent> slots;
  if (!journal::read(dir_ / "slots.rec", &slots, error)) return false;
  for (const auto& e : slots) on_slot(e);
  return true;
}

bool Store::append_control(const std::string& run, const StoredEvent& e, std::string* error) {
  return journal::append(run_file(run, ".rec"), e, error);
}

bool Store::append_segment(const std::string& run, const StoredEvent& e, std::string* error,
                           bool* full) {
  std::error_code ec;
  auto size = fs::file_size(run_file(run, ".log"), ec);
  if (!ec && size > kMaxRunLogBytes) {
    if (full) *full = true;
    *error = "run " + run.substr(0, 12) + " already stores " + std::to_string(size >> 20) +
             " MiB of log segments";
    return false;
  }
  return journal::append(run_file(run, ".log"), e, error);
}

bool Store::append_slot(const StoredEvent& e, std::string* error) {
  return journal::append(dir_ / "slots.rec", e, error);
}

std::vector<StoredEvent> Store::segments(const std::string& run, std::string* error) const {
  std::vector<StoredEvent> out;
  if (!journal::read(run_file(run, ".log"), &out, error)) out.clear();
  return out;
}

void Store::remove_run(const std::string& run) {
  std::error_code ec;
  fs::remove(run_file(run, ".rec"), ec);
  fs::remove(run_file(run, ".log"), ec);
}

bool Store::compact_slots(const std::function<bool(const StoredEvent&)>& keep, std::string* error) {
  std::vector<StoredEvent> all;
  fs::path file = dir_ / "slots.rec";
  if (!journal::read(file, &all, error)) return false;
  fs::path tmp = dir_ / "slots.rec.tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  std::size_t kept = 0;
  for (const auto& e : all) {
    if (!keep(e)) continue;
    if (!journal::append(tmp, e, error)) return false;
    ++kept;
  }
  if (kept == all.size()) {
    fs::remove(tmp, ec);
    return true;
  }
  if (kept == 0) {
    fs::remove(file, ec);
    return true;
  }
  fs::rename(tmp, file, ec);
  if (ec) {
    *error = "cannot replace slots.rec: " + ec.message();
    return false;
  }
  return true;
}

void Store::wipe() {
  std::error_code ec;
  fs::remove_all(dir_ / "runs", ec);
  fs::remove(dir_ / "slots.rec", ec);
}

}  // namespace mesh::ci
