// The ops on topic `issues`: one JSON object per stored event (schema in docs/protocol.md,
// "Issues events"). parse_op validates everything an op carries; encode_op writes the
// canonical form the glue publishes. Neither depends on any board state, so whether an op is
// well-formed is the same on every node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "validate.hpp"

namespace mesh::issues {

inline constexpr std::string_view kTopic = "issues";
inline constexpr std::int64_t kOpVersion = 1;

enum class Kind : std::uint8_t {
  create,
  edit_title,
  edit_body,
  set_state,
  add_label,
  remove_label,
  assign,
  unassign,
  comment,
  edit_comment,
  move,
};
std::string_view kind_name(Kind kind);

enum class State : std::uint8_t { open, closed };
std::string_view state_name(State state);

struct Op {
  Kind kind = Kind::create;
  std::string repo;
  std::string issue;                // every kind but create: the issue's full id
  std::uint64_t num = 0;            // create: the number its creator claimed (1..10^9)
  std::string title;                // create, edit_title
  std::string body;                 // create, edit_body, comment, edit_comment
  std::vector<std::string> labels;  // create: distinct, at most kMaxLabels
  std::string order;                // create, move: the board position
  State state = State::open;        // set_state
  std::string commit;               // set_state: the commit that closed it (may be empty)
  std::string value;                // add/remove_label: the label; assign/unassign: who
  std::vector<std::string> tags;    // remove_label, unassign: the add ids observed
  std::string comment;              // edit_comment: the comment's id

  friend bool operator==(const Op&, const Op&) = default;
};

struct ParsedOp {
  std::optional<Op> op;
  Problem problem;  // when !op
};

// At most kMaxPayload bytes of JSON. Unknown keys are ignored (a later minor may add some);
// an unknown "op" or a "v" other than 1 is refused.
ParsedOp parse_op(std::string_view payload);

// Every field of op against the limits of its kind.
Check validate(const Op& op);

// The canonical JSON of a valid op (only the keys its kind uses). Check validate() first: an
// invalid op still encodes, but every receiver refuses it.
std::string encode_op(const Op& op);

// What the glue publishes: validate(op), then encode_op, then the event size limit (a 60 KiB
// body of quotes or backslashes doubles when escaped and no longer fits in one event).
struct Encoded {
  std::string payload;  // empty when refused
  Problem problem;
  explicit operator bool() const { return !payload.empty(); }
};
Encoded encode_for_publish(const Op& op);

}  // namespace mesh::issues
