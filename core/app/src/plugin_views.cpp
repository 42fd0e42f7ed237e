#include "plugin_views.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <memory>

#include "daemon.hpp"

namespace mesh::app {

void ask_plugin(const Daemon& d, std::string verb, std::vector<std::string> args,
                std::function<void(std::optional<boost::json::value>)> then) {
  bool registered = false;
  for (const auto& v : d.verbs->list()) registered = registered || v.verb == verb;
  if (!registered) return then(std::nullopt);
  auto done =
      std::make_shared<std::function<void(std::optional<boost::json::value>)>>(std::move(then));
  control::Responder r;
  r.chunk = [](std::string) {};
  r.reply = [done, verb](control::Reply reply) {
    if (reply.exit_code != 0) {
      spdlog::warn("{} failed: {}", verb, reply.output);
      return (*done)(std::nullopt);
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(reply.output, ec);
    if (ec) return (*done)(std::nullopt);
    (*done)(std::move(v));
  };
  d.verbs->dispatch(control::Call{std::move(verb), std::move(args), true}, std::move(r));
}

}  // namespace mesh::app
