#include "ids.hpp"

#include "crypto.hpp"

namespace mesh::ci {
namespace {

void field(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

}  // namespace

std::string trigger_key_push() {
  return "push";
}

std::string trigger_key_manual(std::string_view node_id, std::uint64_t request_ms,
                               std::string_view nonce) {
  return "manual:" + std::string(node_id) + ":" + std::to_string(request_ms) + ":" +
         std::string(nonce);
}

std::string trigger_key_schedule(std::string_view slot_id) {
  return "schedule:" + std::string(slot_id);
}

std::string run_id(std::string_view repo, std::string_view ref, std::string_view sha,
                   std::string_view trigger_key) {
  std::string in;
  field(in, "mesh-ci-run-v1");
  field(in, repo);
  field(in, ref);
  field(in, sha);
  in.append(trigger_key);
  return sha256_hex(in);
}

std::string short_run_id(std::string_view id) {
  return std::string(id.substr(0, 12));
}

bool valid_run_prefix(std::string_view prefix) {
  if (prefix.size() < 4 || prefix.size() > 64) return false;
  for (char c : prefix) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string slot_id(const SlotKey& key) {
  std::string in;
  field(in, "mesh-ci-slot-v1");
  field(in, key.repo);
  field(in, key.branch);
  field(in, key.pipeline);
  field(in, key.job);
  in.append(std::to_string(key.at_s));
  return sha256_hex(in);
}

std::string elect_slot_runner(std::string_view slot_id, const std::vector<std::string>& node_ids) {
  std::string best;
  std::string best_hash;
  for (const auto& node : node_ids) {
    std::string in(slot_id);
    in.push_back('\0');
    in.append(node);
    auto h = sha256_hex(in);
    if (best.empty() || h < best_hash || (h == best_hash && node < best)) {
      best = node;
      best_hash = std::move(h);
    }
  }
  return best;
}

}  // namespace mesh::ci
