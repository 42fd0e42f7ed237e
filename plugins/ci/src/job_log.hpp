// A job's log as stored events: the runner cuts its (already masked) output into segments,
// each zlib-compressed on its own and small enough for one event; every node reassembles them
// in sequence order. A log over the size cap keeps its first max_bytes and says so in the log.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "records.hpp"
#include "result.hpp"

namespace mesh::ci {

// Raw bytes gathered before a segment is cut (it may be split further to fit an event).
inline constexpr std::size_t kSegmentRawTarget = 256 * 1024;

// zlib (RFC 1950) of bytes; inflate refuses anything that does not give exactly raw_len bytes
// (at most limits::kSegmentRawBytes).
std::string deflate_bytes(std::string_view bytes);
Result<std::string> inflate_bytes(std::string_view compressed, std::uint64_t raw_len);

class LogSegmenter {
 public:
  LogSegmenter(std::string run, std::uint32_t attempt, std::string job, std::uint64_t max_bytes);

  // Takes output; returns the segments that are complete, in order, ready to publish.
  // Past max_bytes the output is dropped (counted), after a line saying so.
  std::vector<Record> add(std::string_view bytes);
  // The rest, as the last segment (always at least one, possibly empty, marked last).
  std::vector<Record> finish();

  std::uint64_t kept() const { return kept_; }
  std::uint64_t dropped() const { return dropped_; }

 private:
  std::vector<Record> cut(bool last);
  void emit(std::string_view raw, bool last, std::vector<Record>& out);

  std::string run_;
  std::uint32_t attempt_;
  std::string job_;
  std::uint64_t max_bytes_;
  std::string pending_;
  std::uint64_t kept_ = 0;    // bytes of output kept (without marks)
  std::uint64_t offset_ = 0;  // log bytes emitted in segments so far (marks included)
  std::uint64_t dropped_ = 0;
  std::uint64_t next_seq_ = 0;
  bool capped_ = false;
  bool finished_ = false;
};

// One job's stored log, from segments arriving in any order (and possibly more than once).
class JobLog {
 public:
  // Refuses a segment that does not decompress to raw_len bytes, or that contradicts what is
  // already known (another segment with its seq, an offset that does not line up, a second
  // last segment).
  Status add(const LogSegment& segment);
  // Every segment from 0 to the last one is here.
  bool complete() const;
  // The log as far as it is contiguous from the start.
  std::string text() const;
  std::uint64_t dropped() const { return dropped_; }
  std::size_t segments() const { return parts_.size(); }

 private:
  struct Part {
    std::uint64_t offset = 0;
    std::string raw;
  };
  std::map<std::uint64_t, Part> parts_;  // by seq
  std::int64_t last_seq_ = -1;
  std::uint64_t dropped_ = 0;
};

}  // namespace mesh::ci
