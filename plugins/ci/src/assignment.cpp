#include "assignment.hpp"

#include <algorithm>
#include <optional>
#include <tuple>

#include "crypto.hpp"

namespace mesh::ci {
namespace {

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool has_labels(const RunnerInfo& r, const std::vector<std::string>& labels) {
  return std::all_of(labels.begin(), labels.end(),
                     [&](const std::string& l) { return contains(r.labels, l); });
}

// The node's runner for each mode, or nullopt if some mode has none.
std::optional<Candidate> offer(const NodeInfo& n, const Requirements& req, bool need_labels) {
  Candidate c;
  c.node = n.id;
  c.load = n.load;
  c.labelled = need_labels || req.labels.empty();
  c.free = UINT32_MAX;
  auto modes = req.modes;
  std::sort(modes.begin(), modes.end());
  modes.erase(std::unique(modes.begin(), modes.end()), modes.end());
  for (const auto& mode : modes) {
    const RunnerInfo* best = nullptr;
    for (const auto& r : n.runners) {
      if (!contains(r.modes, mode) || (need_labels && !has_labels(r, req.labels))) continue;
      if (!best || r.free > best->free || (r.free == best->free && r.name < best->name)) best = &r;
    }
    if (!best) return std::nullopt;
    c.runners.emplace_back(mode, best->name);
    c.free = std::min(c.free, std::min(best->free, best->slots));
  }
  if (modes.empty()) return std::nullopt;
  return c;
}

std::string list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

std::vector<Candidate> rank_candidates(const Requirements& req, const std::vector<NodeInfo>& nodes,
                                       const std::vector<std::string>& exclude,
                                       std::string_view run_id) {
  std::vector<std::pair<Candidate, std::string>> found;  // candidate, tie-break hash
  for (const auto& n : nodes) {
    if (!n.up || contains(exclude, n.id)) continue;
    auto c = offer(n, req, true);
    if (!c && req.fallback == Fallback::any) c = offer(n, req, false);
    if (!c) continue;
    std::string in(run_id);
    in.push_back('\0');
    in.append(n.id);
    found.emplace_back(std::move(*c), sha256_hex(in));
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    const Candidate& x = a.first;
    const Candidate& y = b.first;
    return std::make_tuple(!x.labelled, x.free == 0, x.load, -static_cast<std::int64_t>(x.free),
                           std::cref(a.second)) <
           std::make_tuple(!y.labelled, y.free == 0, y.load, -static_cast<std::int64_t>(y.free),
                           std::cref(b.second));
  });
  std::vector<Candidate> out;
  for (auto& f : found) out.push_back(std::move(f.first));
  return out;
}

Decision decide_assignment(const Requirements& req, const std::vector<NodeInfo>& nodes,
                           const std::vector<std::string>& exclude, std::string_view run_id) {
  Decision d;
  auto ranked = rank_candidates(req, nodes, exclude, run_id);
  if (!ranked.empty() && ranked.front().free > 0) {
    d.kind = Decision::Kind::assign;
    d.pick = std::move(ranked.front());
    return d;
  }
  if (!ranked.empty()) {
    d.kind = Decision::Kind::wait;
    d.reason = "every eligible runner is busy (" + std::to_string(ranked.size()) + " node" +
               (ranked.size() == 1 ? "" : "s") + ")";
    return d;
  }
  d.kind = Decision::Kind::no_runner;
  std::size_t up = static_cast<std::size_t>(
      std::count_if(nodes.begin(), nodes.end(), [](const NodeInfo& n) { return n.up; }));
  std::string what =
      "no runner up for mode" + std::string(req.modes.size() == 1 ? " " : "s ") + list(req.modes);
  if (!req.labels.empty())
    what += " with label" + std::string(req.labels.size() == 1 ? " " : "s ") + list(req.labels);
  if (!req.labels.empty() && req.fallback == Fallback::none) what += " (fallback: none)";
  what += "; " + std::to_string(up) + " node" + (up == 1 ? "" : "s") + " up";
  std::size_t tried = 0;
  for (const auto& n : nodes) tried += n.up && contains(exclude, n.id);
  if (tried > 0) what += ", " + std::to_string(tried) + " already tried";
  d.reason = what;
  return d;
}

std::vector<std::string> eligible_nodes(const Requirements& req,
                                        const std::vector<NodeInfo>& nodes) {
  std::vector<std::string> out;
  for (const auto& c : rank_candidates(req, nodes, {}, "")) out.push_back(c.node);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace mesh::ci
