#include "mesh/gossip/feed_store.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>

#include "mesh/base/encoding.hpp"
#include "mesh/base/files.hpp"
#include "mesh/gossip/limits.hpp"
#include "wire.hpp"

namespace mesh::gossip {
namespace fs = std::filesystem;
namespace {

// "meshfd" + big-endian u16 format version.
constexpr std::uint8_t kMagic[8] = {'m', 'e', 's', 'h', 'f', 'd', 0x00, 0x01};
constexpr std::size_t kHeaderSize = sizeof kMagic;
// [u32 length][event][u32 crc32 over length and event]
constexpr std::size_t kFrameOverhead = 8;
constexpr std::string_view kFeedExt = ".feed";
constexpr std::string_view kLamportFile = "lamport";
// tick() persists a reservation this far ahead, so most ticks need no disk write.
constexpr std::uint64_t kLamportReserve = 1024;

Error sys_error(const fs::path& path, std::string_view what) {
  return make_error(Errc::io,
                    path.string() + ": " + std::string(what) + ": " + std::strerror(errno));
}

std::uint32_t crc_of(std::span<const std::uint8_t> data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // Records are below 4 GiB (kMaxEventSize), so one call with a uInt length is enough.
  crc = crc32(crc, data.data(), static_cast<uInt>(data.size()));
  return static_cast<std::uint32_t>(crc);
}

bool pread_all(int fd, std::uint8_t* buf, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
  return true;
}

bool pwrite_all(int fd, const std::uint8_t* buf, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pwrite(fd, buf, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
  return true;
}

void fsync_dir(const fs::path& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

Bytes frame(const Bytes& encoded) {
  Bytes rec(kFrameOverhead + encoded.size());
  wire::store_be32(rec.data(), static_cast<std::uint32_t>(encoded.size()));
  std::copy(encoded.begin(), encoded.end(), rec.begin() + 4);
  auto crc = crc_of(std::span(rec).first(4 + encoded.size()));
  wire::store_be32(rec.data() + 4 + encoded.size(), crc);
  return rec;
}

// Parses one frame at the start of `data`; the event's encoding is returned in `body`.
bool unframe(std::span<const std::uint8_t> data, std::span<const std::uint8_t>& body) {
  if (data.size() < kFrameOverhead) return false;
  auto len = wire::load_be32(data.data());
  if (len < kMinEventSize || len > kMaxEventSize || data.size() < kFrameOverhead + len) {
    return false;
  }
  if (crc_of(data.first(4 + len)) != wire::load_be32(data.data() + 4 + len)) return false;
  body = data.subspan(4, len);
  return true;
}

}  // namespace

struct FeedStore::Feed {
  PublicKey origin;
  fs::path path;
  int fd = -1;
  std::vector<std::uint64_t> offsets;  // offsets[seq - 1] = file offset of that record
  std::uint64_t end = kHeaderSize;     // where the next record goes
  bool broken = false;                 // a failed write could not be rolled back

  ~Feed() {
    if (fd >= 0) ::close(fd);
  }
};

FeedStore::FeedStore(fs::path dir) : dir_(std::move(dir)) {}
FeedStore::~FeedStore() {
  feeds_.clear();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Result<std::unique_ptr<FeedStore>> FeedStore::open(const fs::path& root) {
  fs::path dir = root / "feeds";
  if (auto st = ensure_dir(dir); !st) return st.error();
  std::unique_ptr<FeedStore> store(new FeedStore(dir));
  // Two daemons on one root would interleave appends: the second one is refused.
  fs::path lock_path = dir / "lock";
  store->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (store->lock_fd_ < 0) return sys_error(lock_path, "open");
  if (::flock(store->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return make_error(Errc::state, dir.string() + " is in use by another mesh process");
    }
    return sys_error(lock_path, "lock");
  }
  std::uint64_t max_lamport = 0;

  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto& p = entry.path();
    if (p.extension() == kFeedExt && entry.is_regular_file()) files.push_back(p);
  }
  if (ec) return make_error(Errc::io, dir.string() + ": " + ec.message());
  if (files.size() > kMaxFeeds) {
    return make_error(Errc::limit,
                      dir.string() + ": more than " + std::to_string(kMaxFeeds) + " feeds");
  }
  std::sort(files.begin(), files.end());

  for (const auto& path : files) {
    auto key_bytes = from_base32(path.stem().string());
    if (!key_bytes || key_bytes->size() != 32) {
      spdlog::warn("feeds: ignoring {}: the name is not a node key", path.string());
      continue;
    }
    auto feed = std::make_unique<Feed>();
    std::copy(key_bytes->begin(), key_bytes->end(), feed->origin.bytes.begin());
    feed->path = path;
    feed->fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (feed->fd < 0) return sys_error(path, "open");
    struct stat st {};
    if (::fstat(feed->fd, &st) != 0) return sys_error(path, "stat");
    auto size = static_cast<std::uint64_t>(st.st_size);

    std::uint8_t header[kHeaderSize] = {};
    auto head_len = static_cast<std::size_t>(std::min<std::uint64_t>(size, kHeaderSize));
    if (!pread_all(feed->fd, header, head_len, 0)) return sys_error(path, "read");
    if (std::memcmp(header, kMagic, head_len) != 0) {
      // Not torn: something else. Refuse rather than truncate what may be someone's data.
      return make_error(Errc::invalid, path.string() + ": not a mesh feed file (bad header)");
    }
    if (size < kHeaderSize) {
      // Torn while being created: no record can have been acknowledged.
      if (::ftruncate(feed->fd, 0) != 0 || !pwrite_all(feed->fd, kMagic, kHeaderSize, 0) ||
          ::fdatasync(feed->fd) != 0) {
        return sys_error(path, "rewrite header");
      }
      if (size > 0) {
        spdlog::warn("feeds: {}: rewrote a torn header", path.filename().string());
        store->recovery_.truncated.push_back({feed->origin, 0, size});
      }
      size = kHeaderSize;
    }

    // Scan: keep the longest prefix of intact, consecutive records of this origin.
    std::uint64_t pos = kHeaderSize, poisoned = 0;
    Bytes buf;
    while (size - pos >= kFrameOverhead) {
      std::uint8_t len_be[4];
      if (!pread_all(feed->fd, len_be, 4, pos)) return sys_error(path, "read");
      auto len = wire::load_be32(len_be);
      if (len < kMinEventSize || len > kMaxEventSize || size - pos < kFrameOverhead + len) break;
      buf.resize(kFrameOverhead + len);
      if (!pread_all(feed->fd, buf.data(), buf.size(), pos)) return sys_error(path, "read");
      std::span<const std::uint8_t> body;
      if (!unframe(buf, body)) break;
      auto ev = decode(body);
      if (!ev || ev->origin != feed->origin || ev->seq != feed->offsets.size() + 1) break;
      // A clock above the ceiling was stored before the bound existed (an attack): it stays in
      // the feed, but the clock is not rebuilt from it, or every restart would be frozen again.
      if (ev->lamport <= kLamportCeiling) {
        max_lamport = std::max(max_lamport, ev->lamport);
      } else {
        ++poisoned;
      }
      feed->offsets.push_back(pos);
      pos += buf.size();
    }
    if (poisoned > 0) {
      spdlog::warn("feeds: {}: {} events carry a Lamport clock above 2^63; the clock ignores them",
                   path.filename().string(), poisoned);
    }
    if (pos < size) {
      auto dropped = size - pos;
      if (::ftruncate(feed->fd, static_cast<off_t>(pos)) != 0 || ::fdatasync(feed->fd) != 0) {
        return sys_error(path, "truncate torn tail");
      }
      spdlog::warn("feeds: {}: dropped {} bytes of torn or corrupt tail after {} records",
                   path.filename().string(), dropped, feed->offsets.size());
      store->recovery_.truncated.push_back({feed->origin, feed->offsets.size(), dropped});
    }
    feed->end = pos;
    store->feeds_.emplace(feed->origin, std::move(feed));
  }

  // The persisted value is a reservation: every tick handed out so far is at or below it.
  fs::path lamport_path = dir / kLamportFile;
  std::uint64_t persisted = 0;
  if (fs::exists(lamport_path, ec)) {
    auto text = read_file(lamport_path, 64);
    std::string_view s = text ? std::string_view(*text) : std::string_view{};
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    auto [ptr, err] = std::from_chars(s.data(), s.data() + s.size(), persisted);
    if (!text || err != std::errc{} || ptr != s.data() + s.size()) {
      // Ticks are also recovered from our own feed, so this is survivable.
      spdlog::warn("feeds: {}: unreadable Lamport clock, recovering it from the feeds",
                   lamport_path.string());
      persisted = 0;
    }
  }
  if (persisted > kLamportCeiling) {
    // Only a stored clock from outside could have pushed the reservation that far.
    spdlog::warn("feeds: {}: reservation {} is above 2^63; restarting the clock from the feeds",
                 lamport_path.string(), persisted);
    persisted = 0;
  }
  store->reserved_ = persisted;
  store->lamport_ = std::max(persisted, max_lamport);
  return store;
}

Result<FeedStore::Feed*> FeedStore::feed_for(const PublicKey& origin) {
  if (auto it = feeds_.find(origin); it != feeds_.end()) return it->second.get();
  if (feeds_.size() >= kMaxFeeds) {
    return make_error(Errc::limit, "too many feeds (limit " + std::to_string(kMaxFeeds) + ")");
  }
  auto feed = std::make_unique<Feed>();
  feed->origin = origin;
  feed->path = dir_ / (to_base32(origin.bytes) + std::string(kFeedExt));
  feed->fd = ::open(feed->path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (feed->fd < 0) return sys_error(feed->path, "create");
  if (!pwrite_all(feed->fd, kMagic, kHeaderSize, 0) || ::fdatasync(feed->fd) != 0) {
    auto err = sys_error(feed->path, "write header");
    ::unlink(feed->path.c_str());
    return err;
  }
  fsync_dir(dir_);  // the file's existence must be as durable as its first record
  feed->end = kHeaderSize;
  auto* raw = feed.get();
  feeds_.emplace(origin, std::move(feed));
  return raw;
}

Result<Appended> FeedStore::append(const Event& event) {
  std::lock_guard lock(mu_);
  return append_locked(event);
}

Result<Appended> FeedStore::append_locked(const Event& event) {
  if (auto st = check_structure(event); !st) return st.error();
  auto it = feeds_.find(event.origin);
  std::uint64_t last = it == feeds_.end() ? 0 : it->second->offsets.size();
  if (event.seq <= last) return Appended::duplicate;
  if (event.seq > last + 1) return Appended::gap;

  auto feed = feed_for(event.origin);
  if (!feed) return feed.error();
  Feed& f = **feed;
  if (f.broken) {
    return make_error(Errc::io, f.path.string() + ": an earlier write failed; reopen the store");
  }
  Bytes rec = frame(encode(event));
  if (!pwrite_all(f.fd, rec.data(), rec.size(), f.end) || ::fdatasync(f.fd) != 0) {
    auto err = sys_error(f.path, "append");
    // Roll back, or a later good record would sit behind a torn one and be lost in recovery.
    if (::ftruncate(f.fd, static_cast<off_t>(f.end)) != 0) f.broken = true;
    return err;
  }
  f.offsets.push_back(f.end);
  f.end += rec.size();
  lamport_ = std::max(lamport_, event.lamport);
  return Appended::stored;
}

Result<Event> FeedStore::append_own(const identity::Identity& self, std::string_view topic,
                                    std::span<const std::uint8_t> payload, std::uint64_t wall_ms) {
  std::lock_guard lock(mu_);
  auto it = feeds_.find(self.public_key());
  std::uint64_t seq = (it == feeds_.end() ? 0 : it->second->offsets.size()) + 1;
  auto lamport = tick_locked();
  if (!lamport) return lamport.error();
  auto ev = sign_event(self, seq, *lamport, wall_ms, topic, payload);
  if (!ev) return ev.error();
  auto res = append_locked(*ev);
  if (!res) return res.error();
  if (*res != Appended::stored) return make_error(Errc::internal, "own seq was not the next one");
  return std::move(*ev);
}

std::uint64_t FeedStore::last_seq(const PublicKey& origin) const {
  std::lock_guard lock(mu_);
  auto it = feeds_.find(origin);
  return it == feeds_.end() ? 0 : it->second->offsets.size();
}

VersionVector FeedStore::version_vector() const {
  std::lock_guard lock(mu_);
  VersionVector vv;
  for (const auto& [origin, feed] : feeds_) {
    if (!feed->offsets.empty()) vv.emplace(origin, feed->offsets.size());
  }
  return vv;
}

Result<std::vector<Event>> FeedStore::read(const PublicKey& origin, std::uint64_t from_seq,
                                           std::size_t max_count, std::size_t max_bytes) const {
  std::lock_guard lock(mu_);
  std::vector<Event> out;
  auto it = feeds_.find(origin);
  if (it == feeds_.end()) return out;
  const Feed& f = *it->second;
  from_seq = std::max<std::uint64_t>(from_seq, 1);
  std::uint64_t count = f.offsets.size();
  if (from_seq > count || max_count == 0) return out;

  // One contiguous read covering the records we will return.
  std::size_t first = static_cast<std::size_t>(from_seq - 1);
  std::size_t limit =
      std::min<std::size_t>({max_count, kMaxReadCount, static_cast<std::size_t>(count - first)});
  std::size_t n = 0;
  std::uint64_t start = f.offsets[first], stop = start;
  while (n < limit) {
    std::uint64_t next = first + n + 1 < count ? f.offsets[first + n + 1] : f.end;
    if (n > 0 && next - start > max_bytes) break;
    stop = next;
    ++n;
  }
  Bytes buf(static_cast<std::size_t>(stop - start));
  if (!pread_all(f.fd, buf.data(), buf.size(), start)) return sys_error(f.path, "read");
  out.reserve(n);
  std::span<const std::uint8_t> rest(buf);
  for (std::size_t i = 0; i < n; ++i) {
    std::span<const std::uint8_t> body;
    auto ev = unframe(rest, body) ? decode(body) : Result<Event>(Error{});
    if (!ev || ev->seq != from_seq + i) {
      return make_error(Errc::io, f.path.string() + ": record " + std::to_string(from_seq + i) +
                                      " is corrupt on disk");
    }
    rest = rest.subspan(kFrameOverhead + body.size());
    out.push_back(std::move(*ev));
  }
  return out;
}

Result<std::uint64_t> FeedStore::tick() {
  std::lock_guard lock(mu_);
  return tick_locked();
}

Result<std::uint64_t> FeedStore::tick_locked() {
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  // Unreachable (stored clocks stay below 2^63 and 2^63 local ticks never happen), but if it
  // ever were, the clock stays at its maximum rather than failing: a roster change (removing
  // the member who caused it) must always be possible. (lamport, origin, seq) still orders.
  if (lamport_ == kMax) return kMax;
  std::uint64_t next = lamport_ + 1;
  // Persist a reservation ahead of the value handed out, so a restart never goes back.
  if (next > reserved_) {
    std::uint64_t reserve = next > kMax - kLamportReserve ? kMax : next + kLamportReserve;
    if (auto st = write_file_atomic(dir_ / kLamportFile, std::to_string(reserve) + "\n"); !st) {
      return st.error();
    }
    reserved_ = reserve;
  }
  lamport_ = next;
  return next;
}

void FeedStore::observe(std::uint64_t lamport) {
  std::lock_guard lock(mu_);
  lamport_ = std::max(lamport_, lamport);
}

std::uint64_t FeedStore::lamport() const {
  std::lock_guard lock(mu_);
  return lamport_;
}

}  // namespace mesh::gossip
