// Objects that travel the other way (object_offers.hpp): the want a node publishes when no
// member it can reach has a tip, the offer thread that answers wants addressed to this node
// with a pack over a connection of its own, and the upload of such a pack on the wanter.
#include <atomic>

#include "names.hpp"
#include "replicator.hpp"

namespace mesh::repl {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxQueuedOffers = 64;
// A node asks again for the same repo's objects at most this often (each job attempt asks).
constexpr auto kWantInterval = std::chrono::seconds(1);

}  // namespace

void Replicator::ask_for_objects(const std::string& repo, const std::vector<std::string>& missing) {
  Want want;
  want.repo = repo;
  if (auto reg = registry_of(repo)) {
    for (const auto& [ref, rr] : reg->refs) {
      for (const auto& [value, state] : rr.values) {
        if (!state.set || state.set->origin == options_.self_id) continue;
        if (std::find(missing.begin(), missing.end(), value) == missing.end()) continue;
        if (std::find(want.to.begin(), want.to.end(), state.set->origin) == want.to.end()) {
          want.to.push_back(state.set->origin);
        }
      }
    }
  }
  if (want.to.empty()) return;
  {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    if (wanted_at_.size() > 10'000) wanted_at_.clear();
    auto [it, fresh] = wanted_at_.try_emplace(repo, now);
    if (!fresh && now - it->second < kWantInterval) return;
    it->second = now;
  }
  for (const auto& oid : missing) {
    if (want.oids.size() < kMaxWantOids) want.oids.push_back(oid);
  }
  for (const auto& [name, oid] : mirrors_.refs(repo)) {
    if (want.have.size() >= kMaxWantOids) break;
    if (std::find(want.have.begin(), want.have.end(), oid) == want.have.end()) {
      want.have.push_back(oid);
    }
  }
  std::string names;
  for (const auto& id : want.to) names += (names.empty() ? "" : ", ") + name_of(id);
  std::string err;
  if (!services_.publish(kWantTopic, want_payload(want), &err)) {
    services_.log(Services::warn, "repo " + repo + ": cannot ask " + names +
                                      " for the objects no member could supply: " + err);
    return;
  }
  services_.log(Services::debug, "repo " + repo + ": no member could supply " +
                                     std::to_string(want.oids.size()) + " tips; asked " + names +
                                     " to send them");
}

void Replicator::on_want(const std::string& origin, std::string_view payload) {
  if (origin == options_.self_id) return;
  std::string why;
  auto want = parse_want(payload, &why);
  if (!want) {
    services_.log(Services::warn, "a malformed request for objects from " + name_of(origin) +
                                      " was ignored: " + why);
    return;
  }
  if (std::find(want->to.begin(), want->to.end(), options_.self_id) == want->to.end()) return;
  std::lock_guard lock(offer_mu_);
  // One pending offer per (wanter, repo): a newer want replaces it.
  for (auto& [who, w] : offers_) {
    if (who == origin && w.repo == want->repo) {
      w = std::move(*want);
      return;
    }
  }
  if (offers_.size() >= kMaxQueuedOffers) {
    services_.log(Services::warn, "repo " + want->repo + ": " + name_of(origin) +
                                      " asked for objects while " +
                                      std::to_string(kMaxQueuedOffers) +
                                      " offers wait; it asks again at its next attempt");
    return;
  }
  offers_.emplace_back(origin, std::move(*want));
  offer_cv_.notify_one();
}

void Replicator::run_offers() {
  for (;;) {
    std::pair<std::string, Want> next;
    {
      std::unique_lock lock(offer_mu_);
      offer_cv_.wait(lock, [this] { return stopping_ || !offers_.empty(); });
      if (stopping_) return;
      next = std::move(offers_.front());
      offers_.pop_front();
    }
    try {
      send_offer(next.first, next.second);
    } catch (const std::exception& e) {
      services_.log(Services::error, "repo " + next.second.repo + ": offer failed: " + e.what());
    }
  }
}

void Replicator::send_offer(const std::string& to, const Want& want) {
  const std::string& repo = want.repo;
  if (!mirrors_.exists(repo)) return;
  std::vector<std::string> tips, exclude;
  for (const auto& oid : want.oids) {
    if (mirrors_.has_object(repo, oid)) tips.push_back(oid);
  }
  if (tips.empty()) return;  // asked for tips this node does not have (yet, or any more)
  for (const auto& oid : want.have) {
    if (mirrors_.has_object(repo, oid)) exclude.push_back(oid);
  }
  static std::atomic<std::uint64_t> serial{0};
  const fs::path dir = options_.state_dir / "offers";
  std::error_code ec;
  fs::create_directories(dir, ec);
  const fs::path file = dir / ("pack-" + std::to_string(++serial) + ".tmp");
  std::uint64_t size = 0;
  std::string err = write_pack(options_.git, mirrors_.path_of(repo), tips, exclude, file,
                               options_.max_offer_bytes, &size);
  if (err.empty()) {
    err = services_.post_file(to, std::string(kObjectsRoute) + "/" + repo, file, size);
  }
  fs::remove(file, ec);
  if (!err.empty()) {
    services_.log(Services::info, "repo " + repo + ": could not send " + name_of(to) +
                                      " the objects it asked for: " + err);
    return;
  }
  services_.log(Services::info, "repo " + repo + ": sent the objects of " +
                                    std::to_string(tips.size()) + " tips (" + std::to_string(size) +
                                    " bytes) to " + name_of(to) +
                                    ", who could not fetch them, over a connection of our own");
}

UploadAnswer Replicator::accept_objects(const std::string& sender, const std::string& repo,
                                        std::uint64_t length,
                                        const std::function<long(char*, std::size_t)>& read) {
  const std::string who = name_of(sender);
  auto refuse = [&](unsigned status, const std::string& why) {
    services_.log(Services::warn, "repo " + repo + ": objects from " + who + " refused: " + why);
    return UploadAnswer{status, why};
  };
  auto reg = registry_of(repo);
  if (!reg || reg->is_removed() || !mirrors_.exists(repo)) {
    return refuse(404, "no repository " + repo + " here");
  }
  if (length > options_.max_offer_bytes) {
    return refuse(413, "a pack of " + std::to_string(length) + " bytes is over the limit of " +
                           std::to_string(options_.max_offer_bytes));
  }
  // The same hourly byte budget as a fetch of this member's pushes.
  if (!quota_.may_fetch(sender, options_.now_ms())) {
    return refuse(429, who + " is over its hourly byte budget (max_fetch_bytes_per_hour)");
  }
  std::string err = index_pack(options_.git, mirrors_.path_of(repo), read, length);
  if (!err.empty()) return refuse(422, err);
  quota_.fetched(sender, length, options_.now_ms());
  services_.log(Services::info, "repo " + repo + ": objects from " + who + " arrived over " +
                                    "its own connection (" + std::to_string(length) + " bytes)");
  enqueue(make_job(repo));
  wake(repo);
  return {200, "stored"};
}

}  // namespace mesh::repl
