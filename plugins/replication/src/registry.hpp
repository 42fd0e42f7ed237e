// What every node knows about the refs of a repo: for each ref, the values pushes gave it and
// the values they replaced, each stamped with the update's key. A pure, order-independent
// function of the set of updates (a join-semilattice: applying the same updates in any order,
// any number of times, gives the same registry), so every node that has seen the same refs
// events holds the same registry, whatever order gossip delivered them in. What a mirror's
// refs should be follows from it (plan_ref), given the commit graph. docs/replication.md
// explains the rule; this file has no I/O and no libgit2 (containment is a callback).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mesh::repl {

// The total order of ref updates: the replication clock carried in each refs event (a Lamport
// clock: a node's next push has a higher clock than every update it has seen), then the
// publishing node's id.
struct Key {
  std::uint64_t clock = 0;
  std::string origin;  // "mesh:<key>"
  auto operator<=>(const Key&) const = default;
};

// A ref's value is a tip (40 hex) or a deletion record "-<deleted tip>".
std::string deletion_of(std::string_view tip);
bool is_deletion(std::string_view value);
std::string_view deleted_tip(std::string_view value);  // the tip of a deletion record
bool valid_value(std::string_view value);

struct ValueState {
  std::optional<Key> set;         // the latest update that gave the ref this value
  std::optional<Key> superseded;  // the latest update that replaced it
  std::int64_t at_ms = 0;         // when it was last superseded here (dead values expire)
  // Set by an update later than any that replaced it.
  bool alive() const { return set && (!superseded || *superseded < *set); }
};

// One ref of a refs event.
struct RegistryUpdate {
  std::string ref;
  std::string old_oid, new_oid;         // 40 zeros: absent
  std::vector<std::string> supersedes;  // further values the pusher saw replaced
  bool operator==(const RegistryUpdate&) const = default;
};

struct RefRegistry {
  std::map<std::string, ValueState> values;
  // Alive values with the key that set them, by value.
  std::vector<std::pair<std::string, Key>> alive() const;
};

struct RepoRegistry {
  std::map<std::string, RefRegistry> refs;
  std::optional<Key> removed, restored;  // the latest remove-repo / restore-repo
  std::int64_t removed_at_ms = 0;

  bool is_removed() const { return removed && (!restored || *restored < *removed); }
  // Applies one update under `key`: `old` (unless equal to `new`) and every `supersedes` value
  // are replaced, and `new` (a deletion record when `new` is zero) is set. True if anything
  // changed (so the caller persists).
  bool apply(const RegistryUpdate& u, const Key& key, std::int64_t now_ms);
  // remove-repo (remove = true) or restore-repo under `key`.
  bool apply_removal(bool remove, const Key& key, std::int64_t now_ms);
  // Drops dead values superseded longer than life_ms ago, and beyond max_dead per ref the
  // oldest dead ones; refs left without values disappear.
  void expire(std::int64_t now_ms, std::int64_t life_ms, std::size_t max_dead);
  // The highest clock in any key (the node's clock is at least this).
  std::uint64_t max_clock() const;
};

// A value competing for a ref, with the key that set it.
struct Contender {
  std::string value;
  Key key;
  bool operator==(const Contender&) const = default;
};

// What a ref should be, by the rule: of the alive tips, those no other alive tip contains
// compete; the one set by the greatest key wins; the others are parked. A deletion record
// that is alive while some tip is alive was overtaken by new work: reported, not applied. No
// alive tip: the ref is absent.
struct RefPlan {
  std::optional<Contender> winner;        // none: the ref is absent
  std::vector<Contender> parked;          // the other competing tips, greatest key first
  std::vector<Contender> lost_deletions;  // deletion records overtaken by a tip
  std::vector<std::string> missing;       // alive tips whose objects are not here
  bool ready() const { return missing.empty(); }
};

using HasObject = std::function<bool(const std::string& oid)>;
// contains(a, b): commit a equals b or descends from it (false for anything else).
using Contains = std::function<bool(const std::string& a, const std::string& b)>;

// The plan of one ref. Alive tips without their objects make it not ready (their graph is
// unknown), unless `unavailable` lists them: then they are left out (their objects cannot be
// found anywhere for now; they compete again once they arrive).
RefPlan plan_ref(const RefRegistry& r, const HasObject& has, const Contains& contains,
                 const std::vector<std::string>& unavailable = {});

// What a push from `old_oid` to `new_oid` replaces besides `old_oid` itself: every alive tip
// that the new or the old value contains (the pusher had that work), and every alive deletion
// record (the pusher saw the branch as it is). Tips it cannot see (no objects here) stay.
std::vector<std::string> superseded_by_push(const RefRegistry& r, const std::string& old_oid,
                                            const std::string& new_oid, const HasObject& has,
                                            const Contains& contains);

}  // namespace mesh::repl
