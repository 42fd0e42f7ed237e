// Three paired daemons whose every link and fetch goes through a TCP proxy per direction
// (X dials Y through proxy(X, Y)), so a test can cut and heal the link between two nodes
// while all three keep running and accepting pushes. Each node announces a dead address
// (127.0.0.1:1) and has LAN discovery off; the working addresses are the node-local
// `mesh add-address` ones, which point at the proxies.
#pragma once

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "tcp_proxy.hpp"
#include "trio.hpp"

namespace mesh::test {

struct ProxiedTrio : Trio {
  std::map<std::pair<const Node*, const Node*>, std::unique_ptr<TcpProxy>> proxies;

  explicit ProxiedTrio(const std::string& tag, const std::string& extra = "",
                       const std::vector<std::string>& plugins = {"replication"})
      : Trio(tag, plugins, extra) {
    for (Node* n : all()) {
      std::ifstream in(n->root() / "mesh.toml");
      std::string text((std::istreambuf_iterator<char>(in)), {});
      text.replace(text.find("[http]\n"), 7, "[http]\nadvertise = [\"127.0.0.1:1\"]\n");
      text.replace(text.find("[discovery]\n"), 12, "[discovery]\nenabled = false\n");
      std::ofstream(n->root() / "mesh.toml", std::ios::trunc) << text;
    }
  }

  TcpProxy& proxy(const Node& from, const Node& to) { return *proxies.at({&from, &to}); }
  std::string via(const Node& from, const Node& to) {
    return "127.0.0.1:" + std::to_string(proxy(from, to).port());
  }

  void start_and_pair_proxied() {
    for (Node* n : all()) {
      auto p = n->start();
      ASSERT_EQ(p.exit, 0) << n->name() << ": " << p.err;
    }
    for (Node* x : all()) {
      for (Node* y : all()) {
        if (x != y) proxies[{x, y}] = std::make_unique<TcpProxy>(y->port());
      }
    }
    auto token = [](const Node& inviter, const std::string& addr) {
      auto doc = inviter.mesh_json({"invite", "--addr", addr});
      return doc.is_object() ? std::string(doc.at("token").as_string()) : "";
    };
    ASSERT_EQ(b.mesh({"join", token(a, via(b, a))}).exit, 0);
    ASSERT_EQ(c.mesh({"join", token(b, via(c, b))}).exit, 0);
    // Everyone learns everyone through gossip; then each dials the others via its proxies.
    ASSERT_TRUE(eventually(
        [&] {
          for (Node* n : all()) {
            auto v = n->mesh_json({"peers"});
            if (!v.is_array() || v.as_array().size() != 2) return false;
          }
          return true;
        },
        std::chrono::seconds(45)));
    for (Node* x : all()) {
      for (Node* y : all()) {
        if (x == y) continue;
        auto p = x->mesh({"add-address", y->name(), via(*x, *y)});
        ASSERT_EQ(p.exit, 0) << x->name() << " -> " << y->name() << ": " << p.err;
      }
    }
    ASSERT_TRUE(eventually(
        [&] {
          return up_peers(a) == std::set<std::string>{"bob", "carol"} &&
                 up_peers(b) == std::set<std::string>{"alice", "carol"} &&
                 up_peers(c) == std::set<std::string>{"alice", "bob"};
        },
        std::chrono::seconds(60)));
  }

  void cut(const Node& x, const Node& y) {
    proxy(x, y).cut();
    proxy(y, x).cut();
  }
  // Traffic between x and y is dropped silently (connections hang instead of failing).
  void blackhole(const Node& x, const Node& y) {
    proxy(x, y).blackhole();
    proxy(y, x).blackhole();
  }
  void heal(const Node& x, const Node& y) {
    proxy(x, y).heal();
    proxy(y, x).heal();
  }
  void heal_all() {
    for (auto& [pair, p] : proxies) p->heal();
  }
};

}  // namespace mesh::test
