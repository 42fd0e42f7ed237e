// Anti-entropy: every node puts a digest of each mirror (heads, tags, parked tips) into its
// heartbeat; a member whose digest differs from ours twice in a row gets a sync (fetch its
// objects, then make our mirror match our registry). Events carry the decisions; this only
// makes sure no object and no ref is left behind.
#include <boost/json.hpp>

#include "names.hpp"
#include "replicator.hpp"

namespace mesh::repl {
namespace json = boost::json;

namespace {
constexpr std::size_t kMaxHeartbeat = 8 * 1024;
}  // namespace

void Replicator::anti_entropy() {
  // Our digests are refreshed on every change we make; once a minute (12 ticks of 5 s) they are
  // recomputed anyway, so a mirror changed behind our back (e.g. a ref deleted by hand) is
  // noticed and repaired, and what waits for its objects is tried again.
  if (++ticks_ % 12 == 0) {
    refresh_heartbeat();
    retry_outbox();
    std::vector<std::string> repos;
    {
      std::lock_guard lock(reg_mu_);
      for (const auto& [repo, reg] : regs_) repos.push_back(repo);
    }
    for (const auto& repo : repos) enqueue(make_job(repo));
    auto life = std::chrono::duration_cast<std::chrono::milliseconds>(options_.trash_life).count();
    if (std::size_t n = mirrors_.expire_trash(options_.now_ms(), life); n > 0) {
      services_.log(Services::info, "deleted " + std::to_string(n) +
                                        " removed repos kept in the trash for over 30 days");
    }
  }
  auto peers = services_.peers();
  std::vector<Job> syncs;
  {
    std::lock_guard lock(mu_);
    const auto& mine = digests_;
    for (const auto& p : peers) {
      if (!p.up || !p.has_digests) continue;
      for (const auto& [repo, theirs] : p.digests) {
        if (!valid_repo_name(repo)) continue;
        auto it = mine.find(repo);
        const std::string ours = it != mine.end() ? it->second : "";
        const auto key = std::make_pair(p.id, repo);
        if (theirs == ours || theirs.empty()) {
          mismatches_.erase(key);
          continue;
        }
        if (auto s = settled_.find(key);
            s != settled_.end() && s->second == std::pair(theirs, ours)) {
          continue;  // compared already, nothing to take (their events are still on the way)
        }
        // Twice in a row: a refs event in flight explains a single mismatch.
        if (++mismatches_[key] < 2) continue;
        mismatches_.erase(key);
        syncs.push_back(make_job(repo, p.id));
      }
    }
  }
  for (auto& j : syncs) {
    // Only repos this node has a registry for: a member's digest alone never creates a repo
    // (its refs events do).
    if (registry_of(j.repo)) enqueue(std::move(j));
  }
}

std::size_t Replicator::sync_now(const std::string& repo) {
  auto peers = services_.peers();
  std::vector<std::string> repos;
  {
    std::lock_guard lock(reg_mu_);
    for (const auto& [r, reg] : regs_) {
      if ((repo.empty() || r == repo) && !reg.is_removed()) repos.push_back(r);
    }
  }
  std::size_t n = 0;
  for (const auto& r : repos) {
    enqueue(make_job(r));
    for (const auto& p : peers) {
      if (!p.up) continue;
      {
        std::lock_guard lock(mu_);
        settled_.erase({p.id, r});
      }
      enqueue(make_job(r, p.id));
      ++n;
    }
  }
  return n;
}

void Replicator::refresh_heartbeat() {
  // One at a time: two interleaved refreshes could publish the older digests last.
  std::lock_guard refreshing(refresh_mu_);
  std::map<std::string, std::string> all;
  for (const auto& r : mirrors_.list()) all[r] = Mirrors::digest(mirrors_.all_refs(r));
  json::object repos;
  bool truncated = false;
  std::size_t size = 32;
  for (const auto& [r, d] : all) {
    size += r.size() + d.size() + 6;
    if (size > kMaxHeartbeat - 64) {
      truncated = true;  // peers then rely on refs events and `mesh sync`
      break;
    }
    repos[r] = d;
  }
  json::object beat{{"repos", std::move(repos)}};
  if (truncated) beat["truncated"] = true;
  services_.set_heartbeat(json::serialize(beat));
  std::lock_guard lock(mu_);
  digests_ = std::move(all);
}

}  // namespace mesh::repl
