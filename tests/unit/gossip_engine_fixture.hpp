// In-process engines joined by in-memory links (see gossip_engine_test.cpp): every LinkSend
// appends to one queue that pump() drains into the receiving engine's on_message.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "mesh/gossip/engine.hpp"
#include "mesh/gossip/link_protocol.hpp"

using namespace mesh;
using namespace mesh::gossip;
using mesh::identity::Identity;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::atomic<std::uint64_t> g_now{1'700'000'000'000};

struct TempRoot {
  fs::path path;
  TempRoot() {
    static int n = 0;
    path = fs::temp_directory_path() /
           ("mesh-engine-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempRoot() { fs::remove_all(path); }
};

struct Net;

// Records what a subscriber got, for checks from the test thread. The handler shares the
// records, so an Inbox may go out of scope before the engine whose subscription feeds it.
struct Inbox {
  struct Records {
    std::mutex mu;
    std::vector<Event> events;
  };
  std::shared_ptr<Records> records = std::make_shared<Records>();
  std::size_t size() {
    std::lock_guard l(records->mu);
    return records->events.size();
  }
  std::vector<Event> all() {
    std::lock_guard l(records->mu);
    return records->events;
  }
  // The payloads, in arrival order.
  std::vector<std::string> payloads() {
    std::lock_guard l(records->mu);
    std::vector<std::string> out;
    for (const auto& e : records->events) out.emplace_back(e.payload.begin(), e.payload.end());
    return out;
  }
  bool has(std::string_view payload) {
    auto all = payloads();
    return std::find(all.begin(), all.end(), payload) != all.end();
  }
  Engine::Handler handler() {
    return [r = records](const Event& e) {
      std::lock_guard l(r->mu);
      r->events.push_back(e);
      return true;
    };
  }
};

struct Node {
  std::string name;
  Identity id = Identity::generate();
  TempRoot root;
  std::unique_ptr<Engine> engine;
  Limits limits;  // for the next open()

  explicit Node(std::string n) : name(std::move(n)) { open(); }
  const PublicKey& key() const { return id.public_key(); }
  void open() {
    EngineOptions o;
    o.root = root.path;
    o.self = &id;
    o.self_name = name;
    o.now_ms = [] { return g_now.load(); };
    o.limits = limits;
    auto e = Engine::open(std::move(o));
    ASSERT_TRUE(e) << e.error().message;
    engine = std::move(*e);
  }
  Event publish(std::string_view topic, std::string_view payload) {
    auto e = engine->publish(topic, as_bytes(payload));
    EXPECT_TRUE(e) << e.error().message;
    return e ? *e : Event{};
  }
  void admit(const Node& who) {
    RosterOp op;
    op.kind = RosterOp::Kind::admit;
    op.key = who.key();
    op.name = who.name;
    auto e = engine->publish(kRosterTopic, encode_roster_op(op));
    EXPECT_TRUE(e) << e.error().message;
  }
  void remove(const Node& who) {
    RosterOp op;
    op.kind = RosterOp::Kind::remove;
    op.key = who.key();
    auto e = engine->publish(kRosterTopic, encode_roster_op(op));
    EXPECT_TRUE(e) << e.error().message;
  }
  std::uint64_t rejected(const std::string& reason) {
    auto r = engine->rejected();
    auto it = r.find(reason);
    return it == r.end() ? 0 : it->second;
  }
};

struct Net {
  struct Msg {
    PublicKey from, to;
    std::string data;
  };
  std::mutex mu;
  std::deque<Msg> queue;
  std::map<PublicKey, Node*> nodes;
  std::set<std::pair<PublicKey, PublicKey>> links;
  // Per directed link: how many more sends succeed (absent = unlimited).
  std::map<std::pair<PublicKey, PublicKey>, int> credit;

  void add(Node& n) { nodes[n.key()] = &n; }

  LinkSend sender(const PublicKey& from, const PublicKey& to) {
    return [this, from, to](std::string m) {
      std::lock_guard l(mu);
      if (!links.count({from, to})) return false;
      if (auto c = credit.find({from, to}); c != credit.end()) {
        if (c->second <= 0) return false;
        --c->second;
      }
      EXPECT_LE(m.size(), kMaxLinkMessage);
      queue.push_back({from, to, std::move(m)});
      return true;
    };
  }
  void connect(Node& a, Node& b) {
    {
      std::lock_guard l(mu);
      links.insert({a.key(), b.key()});
      links.insert({b.key(), a.key()});
    }
    a.engine->link_up(b.key(), sender(a.key(), b.key()));
    b.engine->link_up(a.key(), sender(b.key(), a.key()));
  }
  void disconnect(Node& a, Node& b) {
    {
      std::lock_guard l(mu);
      links.erase({a.key(), b.key()});
      links.erase({b.key(), a.key()});
    }
    a.engine->link_down(b.key());
    b.engine->link_down(a.key());
  }
  // Delivers queued messages until quiet. Messages on a link cut meanwhile are lost, like TCP.
  std::size_t pump(std::size_t max = 100'000) {
    std::size_t n = 0;
    for (; n < max; ++n) {
      Msg m;
      {
        std::lock_guard l(mu);
        if (queue.empty()) break;
        m = std::move(queue.front());
        queue.pop_front();
        if (!links.count({m.from, m.to})) continue;
      }
      auto it = nodes.find(m.to);
      if (it != nodes.end() && it->second->engine) it->second->engine->on_message(m.from, m.data);
    }
    EXPECT_LT(n, max) << "the network never went quiet";
    return n;
  }
};

template <typename F>
bool eventually(F f, std::chrono::milliseconds limit = 5s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return f();
}

[[maybe_unused]] std::set<PublicKey> member_keys(const Node& n) {
  std::set<PublicKey> out;
  for (const auto& m : n.engine->roster().members()) out.insert(m.key);
  return out;
}

// A, B and C as the join flow builds them: A admits B and B admits its inviter A; B admits C
// and C admits B. All links up while it happens, so admits race the events they unlock.
struct Team {
  Net net;
  Node a{"alice"}, b{"bob"}, c{"carol"};
  explicit Team(bool full_mesh = true) {
    net.add(a);
    net.add(b);
    net.add(c);
    net.connect(a, b);
    net.connect(b, c);
    if (full_mesh) net.connect(a, c);
    net.pump();
    a.admit(b);
    net.pump();
    b.admit(a);
    net.pump();
    b.admit(c);
    net.pump();
    c.admit(b);
    net.pump();
  }
  std::set<PublicKey> all() const { return {a.key(), b.key(), c.key()}; }
};

[[maybe_unused]] std::string events_msg(const std::vector<Bytes>& raw) {
  return encode_link(EventsMsg{raw});
}
[[maybe_unused]] std::string events_msg(const Event& e) {
  return events_msg(std::vector<Bytes>{encode(e)});
}

}  // namespace
