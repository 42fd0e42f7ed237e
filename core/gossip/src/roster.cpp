#include "mesh/gossip/roster.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "mesh/gossip/token.hpp"

namespace mesh::gossip {
namespace json = boost::json;

namespace {

std::string_view kind_name(RosterOp::Kind k) {
  switch (k) {
    case RosterOp::Kind::admit:
      return "admit";
    case RosterOp::Kind::remove:
      return "remove";
    case RosterOp::Kind::rename:
      return "rename";
    case RosterOp::Kind::addresses:
      return "addresses";
  }
  return "admit";
}

Error bad_op(std::string what) {
  return make_error(Errc::invalid, "malformed roster op: " + what);
}

Result<std::vector<std::string>> get_addresses(const json::object& o) {
  std::vector<std::string> out;
  const auto* v = o.if_contains("addresses");
  if (!v) return out;
  if (!v->is_array()) return bad_op("addresses must be an array");
  const auto& arr = v->as_array();
  if (arr.size() > kMaxTokenAddresses) return bad_op("too many addresses");
  for (const auto& a : arr) {
    if (!a.is_string() || !valid_address(a.as_string())) return bad_op("bad address");
    out.emplace_back(a.as_string());
  }
  return out;
}

// Total order of roster ops: (lamport, origin, seq). Lamport clocks are per-origin strictly
// increasing, so (lamport, origin) alone is already unique for honest origins.
using Order = std::tuple<std::uint64_t, PublicKey, std::uint64_t>;

struct Op {
  Order order;
  PublicKey origin;
  RosterOp op;
};

struct State {
  std::map<PublicKey, Member> members;
  std::set<PublicKey> removed;
};

bool same_member(const Member& a, const Member& b) {
  return a.key == b.key && a.name == b.name && a.addresses == b.addresses && a.host == b.host &&
         a.since_lamport == b.since_lamport;
}

bool same_state(const State& a, const State& b) {
  if (a.removed != b.removed || a.members.size() != b.members.size()) return false;
  for (auto ia = a.members.begin(), ib = b.members.begin(); ia != a.members.end(); ++ia, ++ib) {
    if (!same_member(ia->second, ib->second)) return false;
  }
  return true;
}

// An op counts if its origin was admitted at some point (or is self) and it does not come
// after the origin's live tombstone.
bool effective(const Op& op, const std::set<PublicKey>& ever,
               const std::map<PublicKey, Order>& cut) {
  if (!ever.count(op.origin)) return false;
  auto c = cut.find(op.origin);
  return c == cut.end() || op.order < c->second;
}

// The derivation. `cut` (key -> order of its live tombstone) and the admitted set depend on each
// other, so iterate from "no tombstones" until both are stable. Each round is a pure function of
// (self, ops), so every node holding the same ops computes the same sequence and result. A
// pathological removal cycle that never settles stops after kMaxRounds, still deterministic.
State derive(const PublicKey& self, const std::vector<const Op*>& ops) {
  constexpr int kMaxRounds = 32;
  std::map<PublicKey, Order> cut;
  std::set<PublicKey> ever;
  std::map<PublicKey, Order> max_admit;
  for (int round = 0; round < kMaxRounds; ++round) {
    ever = {self};
    for (bool grew = true; grew;) {
      grew = false;
      for (const Op* op : ops) {
        if (op->op.kind != RosterOp::Kind::admit || ever.count(op->op.key)) continue;
        if (effective(*op, ever, cut)) grew = ever.insert(op->op.key).second || grew;
      }
    }
    max_admit.clear();
    std::map<PublicKey, Order> max_tomb;
    for (const Op* op : ops) {
      if (!effective(*op, ever, cut)) continue;
      if (op->op.kind == RosterOp::Kind::admit) {
        auto& m = max_admit[op->op.key];
        m = std::max(m, op->order);
      } else if (op->op.kind == RosterOp::Kind::remove && op->op.key != op->origin) {
        auto& m = max_tomb[op->op.key];
        m = std::max(m, op->order);
      }
    }
    std::map<PublicKey, Order> next;
    for (const auto& [key, t] : max_tomb) {
      auto a = max_admit.find(key);
      if (a == max_admit.end() || a->second < t) next[key] = t;
    }
    if (next == cut) break;
    cut = std::move(next);
  }

  State s;
  for (const auto& [key, t] : cut) s.removed.insert(key);
  for (const auto& key : ever) {
    if (key != self && cut.count(key)) continue;
    Member m;
    m.key = key;
    if (auto a = max_admit.find(key); a != max_admit.end())
      m.since_lamport = std::get<0>(a->second);
    s.members.emplace(key, std::move(m));
  }
  // Names and addresses: last writer wins by order; ops are sorted, so later ones overwrite.
  for (const Op* op : ops) {
    auto it = s.members.find(op->op.key);
    if (it == s.members.end() || !effective(*op, ever, cut)) continue;
    Member& m = it->second;
    switch (op->op.kind) {
      case RosterOp::Kind::admit:
        if (!op->op.name.empty()) m.name = op->op.name;
        if (!op->op.addresses.empty()) m.addresses = op->op.addresses;
        break;
      case RosterOp::Kind::rename:
        m.name = op->op.name;
        break;
      case RosterOp::Kind::addresses:
        m.addresses = op->op.addresses;
        m.host = op->op.host;
        break;
      case RosterOp::Kind::remove:
        break;
    }
  }
  return s;
}

}  // namespace

bool valid_host_tag(std::string_view tag) {
  return !tag.empty() && tag.size() <= 32 &&
         tag.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool address_usable(const Member& m, std::string_view address, std::string_view own_host) {
  if (m.host.empty() || m.host == own_host) return true;
  // host:port or [v6]:port
  std::string_view host = address;
  if (host.starts_with('[')) {
    host = host.substr(1, host.find(']') == std::string_view::npos ? 0 : host.find(']') - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  const bool loopback = host.starts_with("127.") || host == "::1" || host == "localhost" ||
                        host.ends_with(".localhost");
  return !loopback;
}

Bytes encode_roster_op(const RosterOp& op) {
  json::object o;
  o["op"] = kind_name(op.kind);
  o["key"] = op.key.id();
  if (op.kind == RosterOp::Kind::admit || op.kind == RosterOp::Kind::rename) {
    if (!op.name.empty() || op.kind == RosterOp::Kind::rename) o["name"] = op.name;
  }
  if (op.kind == RosterOp::Kind::admit || op.kind == RosterOp::Kind::addresses) {
    json::array a;
    for (const auto& s : op.addresses) a.emplace_back(s);
    o["addresses"] = std::move(a);
  }
  if (op.kind == RosterOp::Kind::addresses && !op.host.empty()) o["host"] = op.host;
  std::string text = json::serialize(o);
  return Bytes(text.begin(), text.end());
}

Result<RosterOp> decode_roster_op(std::span<const std::uint8_t> payload) {
  if (payload.size() > kMaxPayload) return make_error(Errc::limit, "roster op is too large");
  try {
    std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
    json::error_code ec;
    json::parse_options opt;
    opt.max_depth = 8;
    json::value v = json::parse(text, ec, {}, opt);
    if (ec || !v.is_object()) return bad_op("not a JSON object");
    const auto& o = v.as_object();
    const auto* kind = o.if_contains("op");
    const auto* key = o.if_contains("key");
    if (!kind || !kind->is_string()) return bad_op("missing op");
    if (!key || !key->is_string()) return bad_op("missing key");
    RosterOp op;
    std::string_view k = kind->as_string();
    if (k == "admit") {
      op.kind = RosterOp::Kind::admit;
    } else if (k == "remove") {
      op.kind = RosterOp::Kind::remove;
    } else if (k == "rename") {
      op.kind = RosterOp::Kind::rename;
    } else if (k == "addresses") {
      op.kind = RosterOp::Kind::addresses;
    } else {
      return bad_op("unknown op");
    }
    std::string_view id = key->as_string();
    if (!id.starts_with("mesh:")) return bad_op("key must be a mesh: id");
    auto parsed = identity::parse_id(id);
    if (!parsed) return bad_op("bad key");
    op.key = *parsed;
    if (op.kind == RosterOp::Kind::admit || op.kind == RosterOp::Kind::rename) {
      const auto* name = o.if_contains("name");
      if (name) {
        if (!name->is_string() || !valid_node_name(name->as_string())) return bad_op("bad name");
        op.name = std::string(name->as_string());
      } else if (op.kind == RosterOp::Kind::rename) {
        return bad_op("rename needs a name");
      }
    }
    if (op.kind == RosterOp::Kind::admit || op.kind == RosterOp::Kind::addresses) {
      if (op.kind == RosterOp::Kind::addresses && !o.if_contains("addresses")) {
        return bad_op("addresses op needs addresses");
      }
      auto a = get_addresses(o);
      if (!a) return a.error();
      op.addresses = std::move(*a);
    }
    if (const auto* host = o.if_contains("host"); host && op.kind == RosterOp::Kind::addresses) {
      if (!host->is_string() || !valid_host_tag(host->as_string())) return bad_op("bad host");
      op.host = std::string(host->as_string());
    }
    return op;
  } catch (const std::exception& e) {
    return bad_op(e.what());
  }
}

struct Roster::Impl {
  PublicKey self;
  std::mutex apply_mu;  // serializes writers; readers only take snap_mu
  std::map<std::pair<PublicKey, std::uint64_t>, Op> ops;
  bool warned_full = false;

  mutable std::shared_mutex snap_mu;
  std::shared_ptr<const State> snap;

  std::shared_ptr<const State> snapshot() const {
    std::shared_lock lock(snap_mu);
    return snap;
  }

  // Returns true if the op was new and valid.
  bool add(const Event& e) {
    if (e.topic != kRosterTopic) return false;
    if (ops.count({e.origin, e.seq})) return false;
    if (ops.size() >= kMaxRosterEvents) {
      if (!warned_full) spdlog::warn("roster: over {} events; ignoring more", kMaxRosterEvents);
      warned_full = true;
      return false;
    }
    auto op = decode_roster_op(e.payload);
    if (!op) {
      spdlog::debug("roster: ignoring {}#{}: {}", e.origin.short_id(), e.seq, op.error().message);
      return false;
    }
    ops.emplace(std::pair{e.origin, e.seq}, Op{{e.lamport, e.origin, e.seq}, e.origin, *op});
    return true;
  }

  bool recompute() {
    std::vector<const Op*> sorted;
    sorted.reserve(ops.size());
    for (const auto& [k, op] : ops) sorted.push_back(&op);
    std::sort(sorted.begin(), sorted.end(),
              [](const Op* a, const Op* b) { return a->order < b->order; });
    auto next = std::make_shared<const State>(derive(self, sorted));
    std::unique_lock lock(snap_mu);
    bool changed = !snap || !same_state(*snap, *next);
    snap = std::move(next);
    return changed;
  }
};

Roster::Roster(PublicKey self) : impl_(std::make_shared<Impl>()) {
  impl_->self = self;
  std::lock_guard lock(impl_->apply_mu);
  impl_->recompute();
}

bool Roster::apply(const Event& event) {
  return apply(std::span<const Event>(&event, 1));
}

bool Roster::apply(std::span<const Event> events) {
  std::lock_guard lock(impl_->apply_mu);
  bool any = false;
  for (const auto& e : events) any = impl_->add(e) || any;
  return any && impl_->recompute();
}

bool Roster::is_member(const PublicKey& key) const {
  std::shared_lock lock(impl_->snap_mu);
  return impl_->snap->members.count(key) > 0;
}

bool Roster::is_removed(const PublicKey& key) const {
  std::shared_lock lock(impl_->snap_mu);
  return impl_->snap->removed.count(key) > 0;
}

std::vector<Member> Roster::members() const {
  auto s = impl_->snapshot();
  std::vector<Member> out;
  out.reserve(s->members.size());
  for (const auto& [k, m] : s->members) out.push_back(m);
  return out;
}

std::optional<Member> Roster::find(const PublicKey& key) const {
  auto s = impl_->snapshot();
  auto it = s->members.find(key);
  if (it == s->members.end()) return std::nullopt;
  return it->second;
}

std::optional<Member> Roster::find_by_name(std::string_view name) const {
  auto s = impl_->snapshot();
  const Member* hit = nullptr;
  int hits = 0;
  for (const auto& [k, m] : s->members) {
    if (!m.name.empty() && m.name == name) {
      hit = &m;
      ++hits;
    }
  }
  if (hits == 1) return *hit;
  if (hits > 1) return std::nullopt;  // ambiguous: the caller should use the id
  std::string_view prefix = name;
  if (prefix.starts_with("mesh:")) prefix.remove_prefix(5);
  if (prefix.size() < 4) return std::nullopt;
  hit = nullptr;
  hits = 0;
  for (const auto& [k, m] : s->members) {
    std::string id = k.id().substr(5);
    if (id.starts_with(prefix)) {
      hit = &m;
      ++hits;
    }
  }
  if (hits == 1) return *hit;
  return std::nullopt;
}

}  // namespace mesh::gossip
