#include <algorithm>
#include <exception>

#include "mesh/control/control.hpp"

namespace mesh::control {

bool Registry::add(VerbInfo info, VerbHandler handler) {
  std::lock_guard lock(mu_);
  auto same = [&](const Entry& e) { return e.info.verb == info.verb; };
  if (std::any_of(entries_.begin(), entries_.end(), same)) return false;
  entries_.push_back({std::move(info), std::move(handler)});
  return true;
}

void Registry::remove(const std::string& verb) {
  std::lock_guard lock(mu_);
  std::erase_if(entries_, [&](const Entry& e) { return e.info.verb == verb; });
}

void Registry::remove_owner(const std::string& owner) {
  std::lock_guard lock(mu_);
  std::erase_if(entries_, [&](const Entry& e) { return e.info.owner == owner; });
}

std::vector<VerbInfo> Registry::list() const {
  std::lock_guard lock(mu_);
  std::vector<VerbInfo> out;
  for (const auto& e : entries_) out.push_back(e.info);
  std::sort(out.begin(), out.end(),
            [](const VerbInfo& a, const VerbInfo& b) { return a.verb < b.verb; });
  return out;
}

void Registry::dispatch(Call&& call, Responder responder) const {
  VerbHandler handler;
  {
    std::lock_guard lock(mu_);
    for (const auto& e : entries_) {
      if (e.info.verb == call.verb) handler = e.handler;
    }
  }
  // The lock is released before the handler runs: it may add or remove verbs itself.
  if (!handler) {
    if (responder.reply)
      responder.reply({2, "unknown command '" + call.verb + "' (see: mesh help)"});
    return;
  }
  auto reply = responder.reply;
  try {
    handler(std::move(call), std::move(responder));
  } catch (const std::exception& e) {
    // A throwing handler must not take the daemon down; the server ignores a second reply.
    if (reply) reply({1, std::string("internal error: ") + e.what()});
  } catch (...) {
    if (reply) reply({1, "internal error"});
  }
}

}  // namespace mesh::control
