// What a user can do to the issues, shared by the `mesh issues` verb and the web board: each
// action resolves what the user typed against this node's board, plans the ops (planner.hpp),
// checks them, and publishes them through the Service. The board changes when they come back
// through the feed; `last_seq` is what to wait for (Service::when_taken) before answering.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "service.hpp"

namespace mesh::issues {

struct ActionResult {
  bool ok = false;
  std::string error;           // !ok: one line for the user
  std::uint64_t last_seq = 0;  // the last op published (0: nothing was needed)
  std::string id;              // the issue's full id
  std::uint64_t num = 0;       // create: the number claimed
};

// A card dropped on the board: next to another card, into a column (a state, or a label that
// replaces the label of the column it came from), any of these.
struct Drop {
  std::optional<Place> place;
  std::string target;  // the card it was dropped next to (any id form)
  std::optional<State> state;
  std::vector<std::string> add_labels, remove_labels;
};

class Actions {
 public:
  // repo_exists: whether this node has a mirror of the repo; a new issue needs one (or an
  // existing board), so that a typo does not start a board nobody will find.
  Actions(Service& service, std::function<bool(const std::string& repo)> repo_exists)
      : s_(service), repo_exists_(std::move(repo_exists)) {}

  ActionResult create(const std::string& repo, std::string title, std::string body,
                      std::vector<std::string> labels);
  ActionResult edit(const std::string& repo, const std::string& id,
                    std::optional<std::string> title, std::optional<std::string> body);
  ActionResult comment(const std::string& repo, const std::string& id, std::string body);
  // Edits this node's own comment, named by a prefix (4+ hex digits) of its id.
  ActionResult edit_comment(const std::string& repo, const std::string& id,
                            const std::string& comment, std::string body);
  ActionResult set_state(const std::string& repo, const std::string& id, State state);
  ActionResult labels(const std::string& repo, const std::string& id,
                      const std::vector<std::string>& add, const std::vector<std::string>& remove);
  ActionResult assignees(const std::string& repo, const std::string& id,
                         const std::vector<std::string>& add,
                         const std::vector<std::string>& remove);
  ActionResult move(const std::string& repo, const std::string& id, Place place,
                    const std::string& target);
  ActionResult drop(const std::string& repo, const std::string& id, const Drop& drop);

  // Whether the repo is known here: a mirror, or issues on the board.
  bool known_repo(const std::string& repo) const;

 private:
  // Resolves `id` in `repo` and runs plan on the issue, under the service's lock.
  ActionResult on_issue(
      const std::string& repo, const std::string& id,
      const std::function<Planned<std::vector<Op>>(const Board&, const Issue&)>& plan);

  Service& s_;
  std::function<bool(const std::string&)> repo_exists_;
};

}  // namespace mesh::issues
