// Builds the ops a user action publishes, from this node's view of the board: the number a
// new issue claims, its position, the tags a remove must name, and the key(s) a move needs.
// The glue validates, encodes (encode_op) and publishes what these return; the board applies
// them when they come back through the feed like everyone else's.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "board.hpp"
#include "order_key.hpp"

namespace mesh::issues {

template <typename T>
struct Planned {
  std::optional<T> value;
  Problem problem;  // when !value
  explicit operator bool() const { return value.has_value(); }
};

// The number a new issue of `repo` claims: one above every number claimed so far.
std::uint64_t next_number(const Board& board, std::string_view repo);

// A create at the end of the board, validated (title, body, labels, repo).
Planned<Op> plan_create(const Board& board, std::string_view repo, std::string title,
                        std::string body, std::vector<std::string> labels, const Random& random);

// add_label, refused if the issue already has kMaxLabels other labels; nullopt-free no-op
// (an empty vector) if it has the label already.
Planned<std::vector<Op>> plan_add_label(const Board& board, const Issue& issue, std::string label);
// remove_label naming every tag this node observed; an empty vector if the label is absent.
Planned<std::vector<Op>> plan_remove_label(const Issue& issue, std::string label);
Planned<std::vector<Op>> plan_assign(const Issue& issue, std::string who);
Planned<std::vector<Op>> plan_unassign(const Issue& issue, std::string who);

// comment, and edit_comment of a comment `self` (this node's "mesh:..." id) wrote: anyone
// else's is refused here with a clear error (every receiver would refuse it too).
Planned<std::vector<Op>> plan_comment(const Issue& issue, std::string body);
Planned<std::vector<Op>> plan_edit_comment(const Issue& issue, std::string_view self,
                                           std::string_view comment_id, std::string body);

enum class Place : std::uint8_t { before, after };

// Moves `issue` just before or after `target` in board order (all states: a column shows a
// subset of one order). Usually one move op. Re-spaces the whole repo (one move per issue,
// with short keys) when no key fits: the neighbours share a key (a rare concurrent tie) or
// the key would pass kMaxOrderKey. Empty if the issue is there already.
Planned<std::vector<Op>> plan_move(const Board& board, const Issue& issue, Place place,
                                   const Issue& target, const Random& random);

}  // namespace mesh::issues
