// Cron slots the mesh has dealt with: claimed (and so run once) or recorded as missed. A slot
// is taken by its best record: any claim beats a miss (the slot did run), and among records of
// one kind the first in (lamport, origin, seq) order wins, so every node agrees.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "records.hpp"
#include "run_state.hpp"

namespace mesh::ci {

class SlotBook {
 public:
  struct Slot {
    SlotKey key;
    bool claimed = false;  // false: missed
    std::string by;        // the claiming (or recording) node
    std::string run;       // claimed: the run it made
    std::string reason;    // missed: why
    Envelope from;
  };

  // slot.claimed / slot.missed. Returns "" if the record now decides its slot, else why not.
  std::string apply(const Record& r, const Envelope& from);
  const Slot* find(std::string_view slot_id) const;
  bool taken(std::string_view slot_id) const { return find(slot_id) != nullptr; }
  // Drops slots older than before_s (retention).
  void prune(std::int64_t before_s);
  std::size_t size() const { return slots_.size(); }

 private:
  std::map<std::string, Slot, std::less<>> slots_;
};

}  // namespace mesh::ci
