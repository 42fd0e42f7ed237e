// Read side of a Board: board order, filters, one issue with its comments, short refs (#12),
// and resolving what a user typed back to an issue. Everything here is derived from the
// board's state, so every node that has the same events shows the same thing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "board.hpp"

namespace mesh::issues {

// "#12" while no other create of the repo claimed 12; once two did (concurrent creates on
// nodes that had not seen each other), each of them is "#12-" plus the shortest prefix of its
// full id (at least 4 hex digits) that tells the claimants apart. docs/issues.md explains why
// neither gets to keep the bare "#12".
std::string display_ref(const Repo& repo, const Issue& issue);

// The issues of a repo in board order: by order key, ties by full id.
std::vector<const Issue*> board_order(const Repo& repo);
// The comments in the order they were made: by (lamport, origin, seq).
std::vector<const Comment*> comments_in_order(const Issue& issue);

struct CommentView {
  std::string id, author, body;
  std::uint64_t created_ms = 0, edited_ms = 0;
};

struct IssueView {
  std::string id, repo, ref, title, body, author, order;
  std::uint64_t num = 0;
  State state = State::open;
  std::string closed_by;                       // commit id, when a commit message closed it
  std::vector<std::string> labels, assignees;  // sorted, at most kMaxLabels / kMaxAssignees
  bool labels_truncated = false, assignees_truncated = false;
  std::uint64_t created_ms = 0, updated_ms = 0;
  std::vector<CommentView> comments;  // show_issue only
};

enum class StateFilter : std::uint8_t { open, closed, all };
std::optional<StateFilter> parse_state_filter(std::string_view text);  // open|closed|all

struct ListFilter {
  StateFilter state = StateFilter::open;
  std::string label;  // empty: any
};

// Board order; bodies and comments are left out (list views do not show them).
std::vector<IssueView> list_issues(const Board& board, std::string_view repo,
                                   const ListFilter& filter);

struct Resolved {
  const Issue* issue = nullptr;
  Problem problem;  // when !issue: not found, ambiguous (with the candidates), or malformed
};

// "#12", "12", "#12-3fa9", "12-3fa9", or a prefix of the full id (at least 4 hex digits, not
// only digits: those are numbers).
Resolved resolve(const Board& board, std::string_view repo, std::string_view text);

IssueView view_of(const Repo& repo, const Issue& issue, bool with_comments);

}  // namespace mesh::issues
