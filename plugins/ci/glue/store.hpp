// The ci records this node has taken, on disk, so a restart rebuilds every run without the host
// delivering the history again (the subscription's cursor has moved on). Per run two
// append-only files under <data>/runs/: <run id>.rec (control records, replayed at start) and
// <run id>.log (log segments, read when someone asks for the log); slot records go to
// <data>/slots.rec. Retention deletes a run's two files.
//
// Each file: "mshci" 0x00 0x00 0x01, then frames  u32 len || body || u32 crc32(body), with
// body = u8 origin_len || origin || u64 seq || u64 lamport || u64 wall_ms || payload
// (big-endian). An append is fdatasync'd before it returns (then the glue acknowledges the
// event). A torn tail (a crash mid-append) is cut off when the file is read; a file that is
// wrong anywhere else is reported, and the glue rebuilds everything from the feeds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "run_state.hpp"

namespace mesh::ci {

struct StoredEvent {
  Envelope from;
  std::string payload;
};

class Store {
 public:
  explicit Store(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Creates the directories. False with *error if it cannot.
  bool prepare(std::string* error);
  // Every run's control records (run id, events in file order), then the slot records. False
  // with *error if a file is damaged before its end (a torn tail is cut off silently).
  bool replay(const std::function<void(const std::string& run, const StoredEvent&)>& on_run,
              const std::function<void(const StoredEvent&)>& on_slot, std::string* error);

  bool append_control(const std::string& run, const StoredEvent& e, std::string* error);
  // Refuses (false, *error says why, *full set) once the run's segments take kMaxRunLogBytes:
  // what one run can make every node store is bounded.
  bool append_segment(const std::string& run, const StoredEvent& e, std::string* error,
                      bool* full = nullptr);
  static constexpr std::uint64_t kMaxRunLogBytes = 256ull << 20;
  bool append_slot(const StoredEvent& e, std::string* error);

  // The run's log segments as stored (duplicates possible: the caller dedups by origin, seq).
  std::vector<StoredEvent> segments(const std::string& run, std::string* error) const;
  void remove_run(const std::string& run);
  // Rewrites slots.rec with only the events `keep` returns true for.
  bool compact_slots(const std::function<bool(const StoredEvent&)>& keep, std::string* error);
  // Deletes everything (before a rebuild from the feeds).
  void wipe();

 private:
  std::filesystem::path run_file(const std::string& run, const char* ext) const;
  std::filesystem::path dir_;
};

// The frame format, exposed for tests.
namespace journal {
bool append(const std::filesystem::path& file, const StoredEvent& e, std::string* error);
// Reads every frame; a torn tail is cut off (the file is truncated). False on damage.
bool read(const std::filesystem::path& file, std::vector<StoredEvent>* out, std::string* error);
}  // namespace journal

}  // namespace mesh::ci
