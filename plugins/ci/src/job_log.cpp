#include "job_log.hpp"

#include <zlib.h>

#include "limits.hpp"

namespace mesh::ci {
namespace {

std::string cap_line(std::uint64_t max_bytes) {
  return "\n[mesh: the log reached its limit of " + std::to_string(max_bytes) +
         " bytes; the rest of this job's output is not kept]\n";
}

}  // namespace

std::string deflate_bytes(std::string_view bytes) {
  uLongf len = compressBound(static_cast<uLong>(bytes.size()));
  std::string out(len, '\0');
  int rc =
      compress2(reinterpret_cast<Bytef*>(out.data()), &len,
                reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uLong>(bytes.size()), 6);
  if (rc != Z_OK) return {};  // cannot happen with compressBound's room
  out.resize(len);
  return out;
}

Result<std::string> inflate_bytes(std::string_view compressed, std::uint64_t raw_len) {
  if (raw_len > limits::kSegmentRawBytes) return fail("segment over 1 MiB uncompressed");
  std::string out(raw_len, '\0');
  uLongf len = static_cast<uLongf>(raw_len);
  // uncompress needs a non-null destination even for an empty segment.
  char empty = 0;
  Bytef* dest = raw_len ? reinterpret_cast<Bytef*>(out.data()) : reinterpret_cast<Bytef*>(&empty);
  uLong src_len = static_cast<uLong>(compressed.size());
  int rc = uncompress2(dest, &len, reinterpret_cast<const Bytef*>(compressed.data()), &src_len);
  if (rc != Z_OK || len != raw_len || src_len != compressed.size())
    return fail("segment does not inflate to its " + std::to_string(raw_len) + " bytes");
  return out;
}

LogSegmenter::LogSegmenter(std::string run, std::uint32_t attempt, std::string job,
                           std::uint64_t max_bytes)
    : run_(std::move(run)), attempt_(attempt), job_(std::move(job)), max_bytes_(max_bytes) {}

std::vector<Record> LogSegmenter::add(std::string_view bytes) {
  if (finished_) return {};
  std::uint64_t room = capped_ ? 0 : max_bytes_ - kept_;
  if (bytes.size() > room) {
    dropped_ += bytes.size() - room;
    bytes = bytes.substr(0, room);
    if (!capped_) {
      capped_ = true;
      pending_.append(bytes);
      kept_ += bytes.size();
      pending_ += cap_line(max_bytes_);
      return cut(false);
    }
  }
  pending_.append(bytes);
  kept_ += bytes.size();
  return cut(false);
}

std::vector<Record> LogSegmenter::finish() {
  if (finished_) return {};
  if (dropped_ > 0)
    pending_ += "[mesh: " + std::to_string(dropped_) + " bytes of output were not kept]\n";
  finished_ = true;
  return cut(true);
}

std::vector<Record> LogSegmenter::cut(bool last) {
  std::vector<Record> out;
  std::string_view rest = pending_;
  while (rest.size() >= kSegmentRawTarget) {
    emit(rest.substr(0, kSegmentRawTarget), false, out);
    rest.remove_prefix(kSegmentRawTarget);
  }
  if (last) {
    emit(rest, true, out);
    rest = {};
  }
  pending_ = std::string(rest);
  return out;
}

// One segment, or several when the bytes do not compress into one event.
void LogSegmenter::emit(std::string_view raw, bool last, std::vector<Record>& out) {
  std::string data = deflate_bytes(raw);
  if (data.size() > limits::kSegmentDataBytes && raw.size() > 1) {
    std::size_t half = raw.size() / 2;
    emit(raw.substr(0, half), false, out);
    emit(raw.substr(half), last, out);
    return;
  }
  LogSegment s;
  s.attempt = attempt_;
  s.job = job_;
  s.seq = next_seq_++;
  s.offset = offset_;
  s.raw_len = raw.size();
  s.last = last;
  s.dropped = last ? dropped_ : 0;
  s.data = std::move(data);
  offset_ += raw.size();
  out.push_back(Record{run_, std::move(s)});
}

Status JobLog::add(const LogSegment& s) {
  auto raw = inflate_bytes(s.data, s.raw_len);
  if (!raw) return raw.error();
  if (auto it = parts_.find(s.seq); it != parts_.end()) {
    if (it->second.offset == s.offset && it->second.raw == *raw) return {};  // again
    return fail("log segment " + std::to_string(s.seq) + " differs from the one already held");
  }
  if (s.last && last_seq_ >= 0 && static_cast<std::uint64_t>(last_seq_) != s.seq)
    return fail("a second last segment");
  if (last_seq_ >= 0 && s.seq > static_cast<std::uint64_t>(last_seq_))
    return fail("log segment after the last one");
  if (s.last && !parts_.empty() && parts_.rbegin()->first > s.seq)
    return fail("last segment before others");
  // Offsets must line up with the neighbours already held.
  auto next = parts_.upper_bound(s.seq);
  if (next != parts_.end() && next->first == s.seq + 1 &&
      s.offset + raw->size() != next->second.offset)
    return fail("log segment offsets do not line up");
  if (next != parts_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + 1 == s.seq && prev->second.offset + prev->second.raw.size() != s.offset)
      return fail("log segment offsets do not line up");
  }
  if (s.seq == 0 && s.offset != 0) return fail("first log segment does not start at 0");
  if (s.last) {
    last_seq_ = static_cast<std::int64_t>(s.seq);
    dropped_ = s.dropped;
  }
  parts_.emplace(s.seq, Part{s.offset, std::move(*raw)});
  return {};
}

bool JobLog::complete() const {
  return last_seq_ >= 0 && parts_.size() == static_cast<std::size_t>(last_seq_) + 1;
}

std::string JobLog::text() const {
  std::string out;
  std::uint64_t want = 0;
  for (const auto& [seq, part] : parts_) {
    if (seq != want) break;
    out += part.raw;
    ++want;
  }
  return out;
}

}  // namespace mesh::ci
