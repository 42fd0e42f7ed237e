// Shared by the glue's unit tests: a Service wired to an in-memory feed. What it publishes is
// queued with the next seq and Lamport clock (as the host does) and comes back through
// on_event when the test pumps, like the host's delivery of this node's own events.
#pragma once

#include <unistd.h>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "actions.hpp"
#include "service.hpp"
#include "test_util.hpp"

namespace mesh::issues::test {

class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "issues-glue-XXXXXX").string();
    path_ = ::mkdtemp(t.data()) ? t : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct Loop {
  std::string self = "mesh:self";
  std::vector<StoredEvent> queue;  // published, not delivered yet
  Node feed{"mesh:self"};
  std::vector<std::string> logs;
  std::vector<std::pair<std::string, std::string>> changed;
  std::vector<Member> members{{"mesh:self", "alice"}, {"mesh:bob", "bob"}, {"mesh:carol", "carol"}};
  bool members_known = true;
  bool publish_fails = false;
  std::mt19937_64 rng{7};
  std::unique_ptr<Service> service;
  std::unique_ptr<Actions> actions;
  std::vector<std::string> mirrors{"app"};

  explicit Loop(WaitingLimits limits = {}) { reset(limits); }

  void reset(WaitingLimits limits = {}) {
    actions.reset();
    service = std::make_unique<Service>(
        hooks(), self, [this] { return rng(); }, limits);
    actions = std::make_unique<Actions>(*service, [this](const std::string& repo) {
      return std::find(mirrors.begin(), mirrors.end(), repo) != mirrors.end();
    });
  }

  ServiceHooks hooks() {
    ServiceHooks h;
    h.publish = [this](const std::string& payload, std::uint64_t* seq, std::string* err) {
      if (publish_fails) return *err = "no gossip here", false;
      queue.push_back(feed.raw(payload));
      *seq = queue.back().seq;
      return true;
    };
    h.log = [this](LogLevel, const std::string& m) { logs.push_back(m); };
    h.members = [this]() -> std::optional<std::vector<Member>> {
      if (!members_known) return std::nullopt;
      return members;
    };
    h.changed = [this](const std::string& repo, const std::string& issue) {
      changed.emplace_back(repo, issue);
    };
    return h;
  }

  // Delivers what was published, in order; returns how many were handled.
  std::size_t pump() {
    std::size_t n = 0;
    std::vector<StoredEvent> q;
    q.swap(queue);
    for (auto& e : q) {
      if (service->on_event(e.view())) {
        ++n;
      } else {
        queue.push_back(e);
      }
    }
    return n;
  }

  // Creates an issue through the actions and delivers it; returns its full id.
  std::string create(const std::string& title, std::vector<std::string> labels = {},
                     const std::string& repo = "app") {
    ActionResult r = actions->create(repo, title, "", std::move(labels));
    pump();
    return r.id;
  }

  const Issue* issue(const std::string& id) const {
    return service->read([&](const Board& b) { return b.issue(id); });
  }
};

}  // namespace mesh::issues::test
