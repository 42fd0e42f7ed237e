// Shared by the issues unit tests: nodes that sign nothing but number and clock their ops the
// way the host does (seq per origin, Lamport clock), and owned copies of events.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "board.hpp"
#include "ids.hpp"
#include "ops.hpp"
#include "order_key.hpp"

namespace mesh::issues::test {

struct StoredEvent {
  std::string origin;
  std::uint64_t seq = 0, lamport = 0, wall_ms = 0;
  std::string payload;
  EventIn view() const { return EventIn{origin, seq, lamport, wall_ms, payload}; }
  std::string id() const { return op_id(origin, seq); }
};

// One node's feed: each op gets the next seq and a Lamport clock above everything this node
// has seen.
struct Node {
  std::string origin;
  std::uint64_t seq = 0, clock = 0, wall = 1'700'000'000'000;
  explicit Node(std::string o) : origin(std::move(o)) {}
  void observe(std::uint64_t lamport) { clock = std::max(clock, lamport); }
  StoredEvent raw(std::string payload) {
    ++seq;
    ++clock;
    wall += 1000;
    return StoredEvent{origin, seq, clock, wall, std::move(payload)};
  }
  StoredEvent publish(const Op& op) { return raw(encode_op(op)); }
};

inline Op create_op(std::string repo, std::uint64_t num, std::string title,
                    std::string order = "a0", std::vector<std::string> labels = {}) {
  Op op;
  op.kind = Kind::create;
  op.repo = std::move(repo);
  op.num = num;
  op.title = std::move(title);
  op.order = std::move(order);
  op.labels = std::move(labels);
  return op;
}

inline Op issue_op(Kind kind, std::string repo, std::string issue) {
  Op op;
  op.kind = kind;
  op.repo = std::move(repo);
  op.issue = std::move(issue);
  return op;
}

inline Random seeded(std::uint64_t seed) {
  auto gen = std::make_shared<std::mt19937_64>(seed);
  return [gen] { return (*gen)(); };
}

}  // namespace mesh::issues::test
