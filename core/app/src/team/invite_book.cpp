#include "invite_book.hpp"

#include <sodium.h>

#include <boost/json.hpp>

#include "mesh/base/encoding.hpp"
#include "mesh/base/files.hpp"

namespace mesh::app::team {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxStateFile = 1 << 20;

json::object load(const fs::path& file) {
  auto text = read_file(file, kMaxStateFile);
  if (!text) return {};
  boost::system::error_code ec;
  auto v = json::parse(*text, ec);
  return !ec && v.is_object() ? v.as_object() : json::object{};
}

json::array& invites_of(json::object& book) {
  auto& list = book["invites"];
  if (!list.is_array()) list = json::array{};
  return list.as_array();
}

std::uint64_t expiry_of(const json::object& inv) {
  const auto* exp = inv.if_contains("expires_at");
  return exp && exp->is_int64() && exp->as_int64() > 0 ? static_cast<std::uint64_t>(exp->as_int64())
                                                       : 0;
}

bool used(const json::object& inv) {
  const auto* u = inv.if_contains("used");
  return u && u->is_bool() && u->as_bool();
}

std::string secret_hex_of(const json::object& inv) {
  const auto* s = inv.if_contains("secret");
  return s && s->is_string() ? std::string(s->as_string()) : std::string();
}

std::optional<InviteUse> use_of(const json::object& inv) {
  const auto* j = inv.if_contains("joined");
  if (!j || !j->is_object()) return std::nullopt;
  const auto& o = j->as_object();
  auto s = [&](std::string_view k) {
    const auto* p = o.if_contains(k);
    return p && p->is_string() ? std::string(p->as_string()) : std::string();
  };
  InviteUse use{s("id"), s("name"), s("code"), 0};
  if (const auto* at = o.if_contains("at_ms"); at && at->is_int64() && at->as_int64() > 0) {
    use.at_ms = static_cast<std::uint64_t>(at->as_int64());
  }
  return use;
}

}  // namespace

InviteBook::InviteBook(fs::path file, std::function<std::uint64_t()> now_ms)
    : file_(std::move(file)), now_ms_(std::move(now_ms)) {}

Result<IssuedInvite> InviteBook::issue(const identity::Identity& self, std::string_view self_name,
                                       std::vector<std::string> addresses,
                                       std::uint64_t ttl_seconds) {
  if (ttl_seconds == 0 || ttl_seconds > kMaxInviteTtlSeconds) {
    return make_error(Errc::invalid, "invite: --ttl must be between 1s and 7d");
  }
  if (addresses.size() > gossip::kMaxTokenAddresses) addresses.resize(gossip::kMaxTokenAddresses);
  IssuedInvite out;
  out.secret = gossip::random_secret();
  out.expires_at = now_s() + ttl_seconds;
  out.addresses = std::move(addresses);
  auto token = gossip::make_token(self, out.addresses, out.secret, out.expires_at, self_name);
  if (!token) return token.error();
  out.token = std::move(*token);

  std::lock_guard lock(mu_);
  auto book = load(file_);
  json::array kept;
  for (auto& inv : invites_of(book)) {
    // Used secrets stay until they expire, so a replay is refused as "already used".
    if (inv.is_object() && expiry_of(inv.as_object()) > now_s()) kept.push_back(inv);
  }
  if (kept.size() >= kMaxOpenInvites) {
    return make_error(Errc::limit, "too many open invites (" + std::to_string(kept.size()) +
                                       "); wait for some to expire");
  }
  kept.push_back(json::object{{"secret", to_hex(out.secret)},
                              {"expires_at", static_cast<std::int64_t>(out.expires_at)},
                              {"used", false}});
  book["invites"] = std::move(kept);
  // Persisted before the token is shown: the secret must be known (and later burnt) across
  // restarts.
  if (auto st = write_file_atomic(file_, json::serialize(book)); !st) return st.error();
  return out;
}

Result<gossip::TokenSecret> InviteBook::burn(const identity::PublicKey& self,
                                             const identity::PublicKey& joiner,
                                             const JoinMac& mac) {
  std::lock_guard lock(mu_);
  auto book = load(file_);
  for (auto& inv : invites_of(book)) {
    if (!inv.is_object()) continue;
    auto& o = inv.as_object();
    auto secret_bytes = from_hex(secret_hex_of(o));
    if (!secret_bytes || secret_bytes->size() != gossip::kTokenSecretSize) continue;
    gossip::TokenSecret secret{};
    std::copy(secret_bytes->begin(), secret_bytes->end(), secret.begin());
    auto expect = join_mac(secret, self, joiner);
    if (sodium_memcmp(mac.data(), expect.data(), expect.size()) != 0) continue;
    if (expiry_of(o) <= now_s()) {
      return make_error(Errc::denied, "the invite has expired; ask for a new one");
    }
    if (used(o)) return make_error(Errc::denied, "the invite was already used; ask for a new one");
    o["used"] = true;
    if (auto st = write_file_atomic(file_, json::serialize(book)); !st) return st.error();
    return secret;
  }
  return make_error(Errc::denied, "unknown invite (not issued by this node)");
}

void InviteBook::record_use(const gossip::TokenSecret& secret, const InviteUse& use) {
  std::vector<std::function<void(const InviteUse&)>> ready;
  {
    std::lock_guard lock(mu_);
    const std::string hex = to_hex(secret);
    auto book = load(file_);
    for (auto& inv : invites_of(book)) {
      if (!inv.is_object() || secret_hex_of(inv.as_object()) != hex) continue;
      inv.as_object()["joined"] = json::object{{"id", use.id},
                                               {"name", use.name},
                                               {"code", use.code},
                                               {"at_ms", static_cast<std::int64_t>(use.at_ms)}};
      // Only `mesh invite --wait` reads this: a failed write loses that display, not the join.
      (void)write_file_atomic(file_, json::serialize(book));
      break;
    }
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.secret_hex == hex) {
        ready.push_back(std::move(it->second.done));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& done : ready) done(use);
}

InviteState InviteBook::state(const gossip::TokenSecret& secret) const {
  std::lock_guard lock(mu_);
  return state_locked(to_hex(secret));
}

InviteState InviteBook::state_locked(const std::string& hex) const {
  auto book = load(file_);
  for (auto& inv : invites_of(book)) {
    if (!inv.is_object() || secret_hex_of(inv.as_object()) != hex) continue;
    const auto& o = inv.as_object();
    InviteState st;
    st.expires_at = expiry_of(o);
    st.use = use_of(o);
    st.kind = used(o)                   ? InviteState::Kind::used
              : st.expires_at > now_s() ? InviteState::Kind::open
                                        : InviteState::Kind::expired;
    return st;
  }
  return {};
}

InviteBook::WaitId InviteBook::wait(const gossip::TokenSecret& secret,
                                    std::function<void(const InviteUse&)> done) {
  std::optional<InviteUse> already;
  WaitId id = 0;
  {
    // One critical section with record_use: a use is either seen here or delivered later.
    std::lock_guard lock(mu_);
    auto st = state_locked(to_hex(secret));
    if (st.kind == InviteState::Kind::used && st.use) {
      already = st.use;
      id = next_wait_++;  // answered at once; cancel() of it is a no-op
    } else if (waiters_.size() < kMaxInviteWaiters) {
      id = next_wait_++;
      waiters_.emplace(id, Waiter{to_hex(secret), std::move(done)});
    }
  }
  if (already) done(*already);
  return id;
}

void InviteBook::cancel(WaitId id) {
  std::lock_guard lock(mu_);
  waiters_.erase(id);
}

}  // namespace mesh::app::team
