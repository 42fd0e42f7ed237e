#include "journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "limits.hpp"

namespace mesh::issues {
namespace {

constexpr char kHeader[8] = {'m', 's', 'h', 'i', 's', 's', 'j', 0x01};
constexpr std::size_t kFixed = 1 + 8 + 8 + 8;  // origin_len, seq, lamport, wall_ms
constexpr std::size_t kMaxRecordBody = kFixed + 255 + kMaxPayload;

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

bool read_all(int fd, std::string& out, std::string* error) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = errno_text("reading the journal");
      return false;
    }
    if (n == 0) return true;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

bool write_all(int fd, std::uint64_t at, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
    at += static_cast<std::uint64_t>(n);
  }
  return true;
}

}  // namespace

std::unique_ptr<Journal> Journal::open(const std::filesystem::path& file,
                                       const std::function<void(const EventIn&)>& replay,
                                       JournalReport* report, std::string* error) {
  *report = {};
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = errno_text("opening " + file.string());
    return nullptr;
  }
  auto fail = [&](std::string why) {
    ::close(fd);
    *error = std::move(why);
    return std::unique_ptr<Journal>();
  };
  std::string data;
  if (!read_all(fd, data, error)) return fail(*error);
  if (data.size() < sizeof kHeader) {
    // Empty, or a crash while the header was written: start over.
    if (data.compare(0, data.size(), kHeader, data.size()) != 0) {
      return fail("not an issues journal (bad header)");
    }
    if (::ftruncate(fd, 0) != 0 || !write_all(fd, 0, {kHeader, sizeof kHeader}) ||
        ::fdatasync(fd) != 0) {
      return fail(errno_text("writing the journal header"));
    }
    report->dropped_bytes = data.size();
    return std::unique_ptr<Journal>(new Journal(fd, sizeof kHeader));
  }
  if (data.compare(0, sizeof kHeader, kHeader, sizeof kHeader) != 0) {
    return fail("not an issues journal of this version (bad header)");
  }
  std::size_t at = sizeof kHeader;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  while (at < data.size()) {
    std::size_t left = data.size() - at;
    if (left < 4) break;  // torn length
    std::size_t len = get(bytes + at, 4);
    if (len < kFixed || len > kMaxRecordBody) {
      return fail("journal record at byte " + std::to_string(at) + " has a bad length");
    }
    if (left < 4 + len + 4) break;  // torn body or checksum
    const char* body = data.data() + at + 4;
    if (get(bytes + at + 4 + len, 4) != crc(body, len)) {
      // A bad checksum on the last record is a torn write; anywhere else it is damage.
      if (at + 4 + len + 4 == data.size()) break;
      return fail("journal record at byte " + std::to_string(at) + " is damaged");
    }
    const auto* b = reinterpret_cast<const unsigned char*>(body);
    std::size_t origin_len = b[0];
    if (kFixed + origin_len > len) {
      return fail("journal record at byte " + std::to_string(at) + " is malformed");
    }
    EventIn e;
    e.origin = std::string_view(body + 1, origin_len);
    e.seq = get(b + 1 + origin_len, 8);
    e.lamport = get(b + 9 + origin_len, 8);
    e.wall_ms = get(b + 17 + origin_len, 8);
    e.payload = std::string_view(body + kFixed + origin_len, len - kFixed - origin_len);
    replay(e);
    ++report->events;
    at += 4 + len + 4;
  }
  if (at < data.size()) {
    report->dropped_bytes = data.size() - at;
    if (::ftruncate(fd, static_cast<off_t>(at)) != 0 || ::fdatasync(fd) != 0) {
      return fail(errno_text("cutting the journal's torn tail"));
    }
  }
  return std::unique_ptr<Journal>(new Journal(fd, at));
}

Journal::~Journal() {
  ::close(fd_);
}

bool Journal::append(const EventIn& event, std::string* error) {
  if (event.origin.size() > 255 || event.payload.size() > kMaxPayload) {
    *error = "event too large for the journal";
    return false;
  }
  std::string body;
  body.reserve(kFixed + event.origin.size() + event.payload.size());
  body.push_back(static_cast<char>(event.origin.size()));
  body.append(event.origin);
  put64(body, event.seq);
  put64(body, event.lamport);
  put64(body, event.wall_ms);
  body.append(event.payload);
  std::string record;
  record.reserve(body.size() + 8);
  put32(record, static_cast<std::uint32_t>(body.size()));
  record += body;
  put32(record, crc(body.data(), body.size()));
  if (!write_all(fd_, end_, record) || ::fdatasync(fd_) != 0) {
    *error = errno_text("appending to the journal");
    // A later good record must never sit behind a torn one.
    if (::ftruncate(fd_, static_cast<off_t>(end_)) != 0) *error += " (and cutting it back failed)";
    return false;
  }
  end_ += record.size();
  return true;
}

}  // namespace mesh::issues
