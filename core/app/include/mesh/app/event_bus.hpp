// The plugin EventBus over the gossip engine (the Manager knows only the interface).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "mesh/gossip/engine.hpp"
#include "mesh/plugin/manager.hpp"

namespace mesh::app {

std::shared_ptr<plugin::EventBus> make_event_bus(gossip::Engine& engine,
                                                 std::function<std::string()> peers_json,
                                                 std::function<std::string()> self_json);

}  // namespace mesh::app
