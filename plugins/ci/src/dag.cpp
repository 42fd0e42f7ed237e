#include "dag.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace mesh::ci {

Result<Dag> Dag::build(const std::vector<DagNode>& nodes, std::size_t* bad_job) {
  auto bad = [&](std::size_t job, std::string message) {
    if (bad_job) *bad_job = job;
    return fail(std::move(message));
  };
  Dag dag;
  std::map<std::string, std::size_t, std::less<>> index;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!index.emplace(nodes[i].name, i).second)
      return bad(i, "job '" + nodes[i].name + "' is defined twice");
    dag.names_.push_back(nodes[i].name);
  }
  dag.needs_.resize(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::set<std::size_t> seen;
    for (const auto& need : nodes[i].needs) {
      auto it = index.find(need);
      if (it == index.end())
        return bad(i, "job '" + nodes[i].name + "' depends on unknown job '" + need + "'");
      if (it->second == i) return bad(i, "job '" + nodes[i].name + "' depends on itself");
      if (!seen.insert(it->second).second)
        return bad(i, "job '" + nodes[i].name + "' lists '" + need + "' twice in depends_on");
      dag.needs_[i].push_back(it->second);
    }
  }
  // Kahn's algorithm, always taking the lowest ready index: a stable, readable order.
  std::vector<std::size_t> missing(nodes.size());
  std::vector<std::vector<std::size_t>> dependents(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    missing[i] = dag.needs_[i].size();
    for (auto n : dag.needs_[i]) dependents[n].push_back(i);
  }
  std::set<std::size_t> ready;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (missing[i] == 0) ready.insert(i);
  }
  while (!ready.empty()) {
    std::size_t i = *ready.begin();
    ready.erase(ready.begin());
    dag.order_.push_back(i);
    for (auto d : dependents[i]) {
      if (--missing[d] == 0) ready.insert(d);
    }
  }
  if (dag.order_.size() != nodes.size()) {
    // Walk needs from a job left over until a job repeats: that stretch is a cycle.
    std::size_t start = 0;
    while (missing[start] == 0) ++start;
    std::vector<std::size_t> path;
    std::vector<int> pos(nodes.size(), -1);
    std::size_t cur = start;
    while (pos[cur] < 0) {
      pos[cur] = static_cast<int>(path.size());
      path.push_back(cur);
      auto next = std::find_if(dag.needs_[cur].begin(), dag.needs_[cur].end(),
                               [&](std::size_t n) { return missing[n] != 0; });
      cur = *next;  // a leftover job always has a leftover dependency
    }
    std::string text;
    std::size_t first = static_cast<std::size_t>(pos[cur]);
    std::size_t lowest = *std::min_element(path.begin() + static_cast<long>(first), path.end());
    // Print it from the job declared first, following "depends on".
    std::vector<std::size_t> cycle(path.begin() + static_cast<long>(first), path.end());
    std::rotate(cycle.begin(), std::find(cycle.begin(), cycle.end(), lowest), cycle.end());
    for (auto c : cycle) text += nodes[c].name + " -> ";
    text += nodes[cycle.front()].name;
    return bad(lowest, "dependency cycle: " + text + " (each depends on the next)");
  }
  return dag;
}

std::optional<std::size_t> Dag::index(std::string_view name) const {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return i;
  }
  return std::nullopt;
}

std::vector<std::size_t> Dag::with_dependencies(const std::vector<std::size_t>& selected) const {
  std::vector<char> in(size(), 0);
  std::vector<std::size_t> stack;
  for (auto s : selected) {
    if (s < size() && !in[s]) {
      in[s] = 1;
      stack.push_back(s);
    }
  }
  while (!stack.empty()) {
    auto i = stack.back();
    stack.pop_back();
    for (auto n : needs_[i]) {
      if (!in[n]) {
        in[n] = 1;
        stack.push_back(n);
      }
    }
  }
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < size(); ++i) {
    if (in[i]) out.push_back(i);
  }
  return out;
}

std::vector<std::size_t> Dag::ready(std::span<const JobPhase> phases,
                                    std::size_t max_parallel) const {
  std::vector<std::size_t> out;
  if (phases.size() != size()) return out;
  std::size_t running =
      static_cast<std::size_t>(std::count(phases.begin(), phases.end(), JobPhase::running));
  std::size_t room = std::max<std::size_t>(max_parallel, 1);
  if (running >= room) return out;
  room -= running;
  for (auto i : order_) {
    if (phases[i] != JobPhase::pending) continue;
    bool ok = std::all_of(needs_[i].begin(), needs_[i].end(),
                          [&](std::size_t n) { return phases[n] == JobPhase::passed; });
    if (!ok) continue;
    out.push_back(i);
    if (out.size() == room) break;
  }
  return out;
}

std::vector<std::size_t> Dag::doomed(std::span<const JobPhase> phases) const {
  std::vector<std::size_t> out;
  if (phases.size() != size()) return out;
  std::vector<char> dead(size(), 0);
  for (auto i : order_) {  // dependencies first, so one pass is transitive
    auto p = phases[i];
    if (p == JobPhase::failed || p == JobPhase::cancelled || p == JobPhase::skipped) {
      dead[i] = 1;
      continue;
    }
    if (p != JobPhase::pending) continue;
    if (std::any_of(needs_[i].begin(), needs_[i].end(), [&](std::size_t n) { return dead[n]; })) {
      dead[i] = 1;
      out.push_back(i);
    }
  }
  return out;
}

bool Dag::finished(std::span<const JobPhase> phases) const {
  return std::all_of(phases.begin(), phases.end(), [](JobPhase p) { return is_terminal(p); });
}

}  // namespace mesh::ci
