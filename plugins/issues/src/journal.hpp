// The plugin's cache of the issues events it has taken, so a restart rebuilds the board
// without the host delivering the whole history again (its cursor has moved on). It is only a
// cache: if it is missing or unusable the glue deletes it and subscribes under a new cursor
// name, which has the host deliver every stored `issues` event from the feeds again.
//
// <data dir>/journal: "mshissj" 0x00 0x01, then records
//   u32 len || body[len] || u32 crc32(body)
//   body = u8 origin_len || origin || u64 seq || u64 lamport || u64 wall_ms || payload
// (big-endian). A torn tail (crash mid-append) is cut off on open; anything else wrong makes
// open() fail, and the glue rebuilds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "board.hpp"

namespace mesh::issues {

struct JournalReport {
  std::uint64_t events = 0;         // replayed
  std::uint64_t dropped_bytes = 0;  // torn tail cut off
};

class Journal {
 public:
  // Opens (creating) the file, replays every record to `replay` in order and cuts off a torn
  // tail. nullptr with *error set if the file is unusable (wrong header, a bad record before
  // the end, I/O error): delete it and rebuild from the feeds.
  static std::unique_ptr<Journal> open(const std::filesystem::path& file,
                                       const std::function<void(const EventIn&)>& replay,
                                       JournalReport* report, std::string* error);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends one event and fdatasyncs before returning true (then the glue acknowledges the
  // event to the host). On failure the file is cut back to its previous end.
  bool append(const EventIn& event, std::string* error);

 private:
  Journal(int fd, std::uint64_t end) : fd_(fd), end_(end) {}
  int fd_;
  std::uint64_t end_;
};

}  // namespace mesh::issues
