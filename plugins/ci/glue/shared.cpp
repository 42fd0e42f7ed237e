#include "shared.hpp"

#include <algorithm>

namespace mesh::ci {

Shared::Shared(Env& e, Settings s, std::filesystem::path data, std::filesystem::path repos,
               std::string self_id, std::string name)
    : env(e),
      settings(std::move(s)),
      data_dir(std::move(data)),
      git(std::move(repos)),
      store(data_dir),
      self(std::move(self_id)),
      self_name(std::move(name)),
      book(settings.max_runs) {}

bool Shared::publish(const Record& r) {
  auto payload = encode_record(r);
  if (!payload) {
    log(Level::error, "cannot encode " + std::string(record_type(r)) + " for run " +
                          short_run_id(r.run) + ": " + payload.error().message);
    return false;
  }
  std::string err;
  if (!env.publish(kTopic, *payload, &err)) {
    log(Level::error, "cannot publish " + std::string(record_type(r)) + " for run " +
                          short_run_id(r.run) + ": " + err);
    return false;
  }
  return true;
}

bool Shared::publish_live(const LiveChunk& c) {
  auto payload = encode_live_chunk(c);
  if (!payload) return false;
  std::string err;
  return env.publish(kLiveTopic, *payload, &err);
}

void Shared::refresh_members(bool force) {
  std::uint64_t now = mono_ms();
  if (!force && members_valid_ && now - members_at_ < 1000) return;
  members_ = env.members();
  local_runners_ = env.local_runners();
  load_ = env.load();
  members_at_ = now;
  members_valid_ = true;
}

bool Shared::is_up(std::string_view node) const {
  if (node == self) return true;
  for (const auto& m : members_) {
    if (m.id == node) return m.up;
  }
  return false;
}

std::string Shared::name_of(std::string_view node) const {
  if (node == self) return self_name;
  for (const auto& m : members_) {
    if (m.id == node && !m.name.empty()) return m.name;
  }
  return std::string(node.substr(0, std::min<std::size_t>(node.size(), 13)));
}

std::vector<RunnerInfo> Shared::advertised() const {
  if (!local_runners_.enabled) return {};
  std::vector<RunnerInfo> out = local_runners_.runners;
  for (auto& r : out) r.free = r.free > pending_claims ? r.free - pending_claims : 0;
  return out;
}

std::vector<NodeInfo> Shared::nodes() const {
  std::vector<NodeInfo> out;
  NodeInfo me;
  me.id = self;
  me.up = true;
  me.load = load_;
  me.runners = advertised();
  out.push_back(std::move(me));
  for (const auto& m : members_) {
    NodeInfo n;
    n.id = m.id;
    n.up = m.up;
    if (m.ci) {
      n.load = m.ci->load;
      n.runners = m.ci->runners;
    }
    out.push_back(std::move(n));
  }
  std::uint64_t now = env.mono_ms();
  for (auto& n : out) {
    auto it = reserved_.find(n.id);
    if (it == reserved_.end() || n.id == self) continue;  // this node counts its own exactly
    auto recent = static_cast<std::uint32_t>(
        std::count_if(it->second.begin(), it->second.end(),
                      [&](const Reservation& r) { return now - r.at < 5'000; }));
    for (auto& r : n.runners) r.free = r.free > recent ? r.free - recent : 0;
  }
  return out;
}

void Shared::reserve(const std::string& node, const std::string& run) {
  std::uint64_t now = mono_ms();
  auto& v = reserved_[node];
  v.erase(
      std::remove_if(v.begin(), v.end(), [&](const Reservation& r) { return now - r.at >= 5'000; }),
      v.end());
  v.push_back({run, now});
  if (reserved_.size() > 1000) reserved_.clear();
}

void Shared::release(const std::string& run) {
  for (auto& [node, v] : reserved_) {
    v.erase(std::remove_if(v.begin(), v.end(), [&](const Reservation& r) { return r.run == run; }),
            v.end());
  }
}

std::string job_list(const RunState& run) {
  std::string out;
  for (const auto& j : run.jobs) out += (out.empty() ? "" : ", ") + j.name;
  return out;
}

}  // namespace mesh::ci
