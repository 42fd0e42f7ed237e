// The pusher's side: acknowledgements from the members, the answer a push shows, and the
// notes about unresolved divergences that later fetches and pushes show.
#include <boost/json.hpp>

#include "parked.hpp"
#include "replicator.hpp"

namespace mesh::repl {
namespace json = boost::json;

namespace {

const json::string* str_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v ? v->if_string() : nullptr;
}

std::string short_oid(const std::string& oid) {
  return oid.substr(0, 12);
}

std::string branch_of(const std::string& ref) {
  if (ref.starts_with("refs/heads/")) return ref.substr(11);
  if (ref.starts_with("refs/tags/")) return ref.substr(10);
  return ref;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  }
  return out;
}

}  // namespace

void Replicator::on_ack(const std::string& origin, std::string_view payload) {
  if (payload.size() > 64 * 1024) return;
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  auto* o = ec ? nullptr : v.if_object();
  if (!o) return;
  auto* repo = str_at(*o, "repo");
  auto* refs = o->if_contains("refs");
  if (!repo || !refs || !refs->is_object()) return;
  {
    std::lock_guard lock(ack_mu_);
    for (const auto& [ref, oid] : refs->as_object()) {
      if (!oid.is_string()) continue;
      auto key =
          std::make_tuple(std::string(*repo), std::string(ref), std::string(oid.as_string()));
      // Only pushes that are being waited for keep their acks (bounded by the waiters).
      if (auto it = acks_.find(key); it != acks_.end()) it->second.insert(origin);
      // Who has which tip: a fetch source for the members that lack it.
      if (holders_.size() > 10'000) holders_.clear();
      holders_[{std::string(*repo), std::string(oid.as_string())}].insert(origin);
    }
    ack_cv_.notify_all();
  }
  // A job of this repo waiting to retry may find what it lacks at this member now, instead of
  // at its next scheduled attempt (a relayed push: the relay has just fetched it).
  if (origin != options_.self_id) wake(std::string(*repo));
}

std::string Replicator::wait_replicated(const PushRecord& push, std::chrono::milliseconds wait,
                                        const std::string& url) {
  if (push.updates.empty()) return "";
  auto peers = services_.peers();
  std::set<std::string> up;
  std::vector<std::string> down;
  for (const auto& p : peers) {
    if (p.up) {
      up.insert(p.id);
    } else {
      down.push_back(p.name);
    }
  }
  std::vector<std::tuple<std::string, std::string, std::string>> keys;
  for (const auto& u : push.updates) keys.emplace_back(push.repo, u.ref, u.new_oid);
  // Members that have every update of the push.
  auto confirmed = [&] {
    std::set<std::string> all = up;
    for (const auto& key : keys) {
      std::set<std::string> have;
      if (auto it = acks_.find(key); it != acks_.end()) have = it->second;
      std::set<std::string> both;
      for (const auto& id : all) {
        if (have.count(id)) both.insert(id);
      }
      all = std::move(both);
    }
    return all;
  };
  // The updates of this push that lost to a concurrent one, by this node's registry.
  auto overtaken = [&] {
    std::vector<std::pair<RegistryUpdate, RefPlan>> out;
    std::optional<RepoRegistry> reg = registry_of(push.repo);
    if (!reg) return out;
    auto all = plans(push.repo, *reg);
    for (const auto& u : push.updates) {
      auto it = all.find(u.ref);
      if (it == all.end() || !it->second.ready() || !it->second.winner) continue;
      const RefPlan& p = it->second;
      bool lost =
          u.new_oid == kZeroOid
              ? std::any_of(p.lost_deletions.begin(), p.lost_deletions.end(),
                            [&](const Contender& c) { return c.value == deletion_of(u.old_oid); })
              : std::any_of(p.parked.begin(), p.parked.end(),
                            [&](const Contender& c) { return c.value == u.new_oid; });
      if (lost) out.emplace_back(u, p);
    }
    return out;
  };
  std::uint64_t seen_generation = ~std::uint64_t{0};
  std::vector<std::pair<RegistryUpdate, RefPlan>> lost;
  {
    std::unique_lock lock(ack_mu_);
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      if (confirmed().size() >= up.size() || stopping_) break;
      std::uint64_t gen = registry_changes_.load();
      if (gen != seen_generation) {
        // The registry changed: a concurrent push may have overtaken this one.
        seen_generation = gen;
        lock.unlock();
        lost = overtaken();
        lock.lock();
        if (!lost.empty()) break;
      }
      if (ack_cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
    }
  }
  if (lost.empty()) lost = overtaken();
  std::set<std::string> have;
  {
    std::lock_guard lock(ack_mu_);
    have = confirmed();
    for (const auto& key : keys) acks_.erase(key);
  }
  std::vector<std::string> pending;
  for (const auto& p : peers) {
    if (p.up && !have.count(p.id)) pending.push_back(p.name);
  }

  std::string msg;
  for (const auto& [u, plan] : lost) {
    const std::string b = branch_of(u.ref);
    const std::string winner = plan.winner->value;
    const std::string who = name_of(plan.winner->key.origin);
    if (u.new_oid == kZeroOid) {
      msg += "mesh: your deletion of " + b + " was overtaken by new work pushed to " + who + " (" +
             short_oid(winner) + "); the branch is kept on every node\n" +
             "mesh:   delete it again: git push " + url + " --delete " + b + "\n";
      continue;
    }
    const std::string parked = parked_name(u.ref, u.new_oid);
    msg += "mesh: " + b + " was overtaken by a concurrent push to " + who + " (" +
           short_oid(winner) + " is " + b + " on every node now)\n" + "mesh: your " +
           short_oid(u.new_oid) + " is kept, parked as " + parked + "\n";
    if (u.ref.starts_with("refs/heads/")) {
      msg += "mesh:   merge it:   git fetch " + url + " " + u.new_oid +
             " && git merge FETCH_HEAD && git push " + url + " HEAD:" + b + "\n";
    } else {
      msg += "mesh:   take yours: git push --force " + url + " " + u.new_oid + ":" + u.ref + "\n";
    }
    msg += "mesh:   or drop it: mesh drop " + push.repo + " " + parked + "\n";
  }
  msg += "mesh: replicated to " + std::to_string(1 + have.size()) + "/" +
         std::to_string(peers.size() + 1) + " nodes";
  if (!down.empty()) {
    msg += "; " + join_names(down) + (down.size() == 1 ? " is" : " are") + " down and catch" +
           (down.size() == 1 ? "es" : "") + " up when " +
           (down.size() == 1 ? "it returns" : "they return");
  }
  if (!pending.empty()) {
    msg += "; " + join_names(pending) + " ha" + (pending.size() == 1 ? "s" : "ve") +
           " not confirmed yet";
  }
  return msg;
}

std::string Replicator::notice(const std::string& repo, const std::string& url) {
  std::optional<RepoRegistry> reg = registry_of(repo);
  if (!reg || reg->is_removed()) return "";
  std::string out;
  std::size_t n = 0;
  for (const auto& [ref, plan] : plans(repo, *reg)) {
    if (!plan.ready() || !plan.winner) continue;
    for (const auto& c : plan.parked) {
      if (++n > 5) continue;
      out += "mesh: " + branch_of(ref) + " diverged: " + name_of(c.key.origin) + "'s " +
             short_oid(c.value) + " lost to " + short_oid(plan.winner->value) +
             " and is parked as " + parked_name(ref, c.value) + "\n";
    }
    for (const auto& c : plan.lost_deletions) {
      if (++n > 5) continue;
      out += "mesh: " + branch_of(ref) + ": " + name_of(c.key.origin) +
             "'s deletion was overtaken by new work; the branch is kept\n";
    }
  }
  if (n > 5) out += "mesh: ... and " + std::to_string(n - 5) + " more\n";
  if (n > 0) {
    out += "mesh: resolve with a merge, or drop the parked tip (mesh repos shows the commands; " +
           url + ")\n";
  }
  return out;
}

}  // namespace mesh::repl
