#include "slot_book.hpp"

#include <tuple>

namespace mesh::ci {
namespace {

bool earlier(const Envelope& a, const Envelope& b) {
  return std::tie(a.lamport, a.origin, a.seq) < std::tie(b.lamport, b.origin, b.seq);
}

}  // namespace

std::string SlotBook::apply(const Record& r, const Envelope& from) {
  Slot next;
  std::string id;
  if (const auto* c = std::get_if<SlotClaimed>(&r.body)) {
    id = c->slot;
    next.key = c->key;
    next.claimed = true;
    next.run = c->run;
  } else if (const auto* m = std::get_if<SlotMissed>(&r.body)) {
    id = m->slot;
    next.key = m->key;
    next.reason = m->reason;
  } else {
    return "not a slot record";
  }
  next.by = from.origin;
  next.from = from;
  auto it = slots_.find(id);
  if (it == slots_.end()) {
    slots_.emplace(id, std::move(next));
    return {};
  }
  Slot& cur = it->second;
  if (cur.from.origin == from.origin && cur.from.seq == from.seq) return "duplicate";
  bool wins = next.claimed != cur.claimed ? next.claimed : earlier(from, cur.from);
  if (!wins)
    return cur.claimed ? "slot already claimed by " + cur.by : "slot already recorded as missed";
  cur = std::move(next);
  return {};
}

const SlotBook::Slot* SlotBook::find(std::string_view slot_id) const {
  auto it = slots_.find(slot_id);
  return it == slots_.end() ? nullptr : &it->second;
}

void SlotBook::prune(std::int64_t before_s) {
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (it->second.key.at_s < before_s) {
      it = slots_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace mesh::ci
