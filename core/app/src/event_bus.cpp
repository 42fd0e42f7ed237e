#include "mesh/app/event_bus.hpp"

namespace mesh::app {
namespace {

class EngineBus final : public plugin::EventBus {
 public:
  EngineBus(gossip::Engine& engine, std::function<std::string()> peers,
            std::function<std::string()> self)
      : engine_(engine), peers_(std::move(peers)), self_(std::move(self)) {}

  Result<std::uint64_t> publish(std::string_view topic, std::string_view payload) override {
    auto ev = engine_.publish(topic, as_bytes(payload));
    if (!ev) return ev.error();
    return gossip::is_ephemeral_topic(topic) ? std::uint64_t{0} : ev->seq;
  }

  Status subscribe(std::string name, std::string pattern,
                   std::function<bool(const plugin::BusEvent&)> handler) override {
    return engine_.subscribe(std::move(name), std::move(pattern),
                             [handler = std::move(handler)](const gossip::Event& e) {
                               plugin::BusEvent be;
                               be.origin_id = e.origin.id();
                               be.seq = gossip::is_ephemeral_topic(e.topic) ? 0 : e.seq;
                               be.lamport = e.lamport;
                               be.wall_ms = e.wall_ms;
                               be.topic = e.topic;
                               be.payload =
                                   std::string_view(reinterpret_cast<const char*>(e.payload.data()),
                                                    e.payload.size());
                               return handler(be);
                             });
  }

  void unsubscribe(const std::string& name) override { engine_.unsubscribe(name); }
  std::string peers_json() const override { return peers_(); }
  std::string self_json() const override { return self_(); }

 private:
  gossip::Engine& engine_;
  std::function<std::string()> peers_;
  std::function<std::string()> self_;
};

}  // namespace

std::shared_ptr<plugin::EventBus> make_event_bus(gossip::Engine& engine,
                                                 std::function<std::string()> peers_json,
                                                 std::function<std::string()> self_json) {
  return std::make_shared<EngineBus>(engine, std::move(peers_json), std::move(self_json));
}

}  // namespace mesh::app
