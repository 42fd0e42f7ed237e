#include "planner.hpp"

#include <algorithm>
#include <set>

#include "limits.hpp"
#include "query.hpp"

namespace mesh::issues {
namespace {

template <typename T>
Planned<T> fail(Problem p) {
  return Planned<T>{std::nullopt, std::move(p)};
}

Op base(Kind kind, const Issue& issue) {
  Op op;
  op.kind = kind;
  op.repo = issue.repo;
  op.issue = issue.id;
  return op;
}

Planned<std::vector<Op>> one(Op op) {
  if (auto p = validate(op)) return fail<std::vector<Op>>(*p);
  return Planned<std::vector<Op>>{std::vector<Op>{std::move(op)}, {}};
}

Planned<std::vector<Op>> none() {
  return Planned<std::vector<Op>>{std::vector<Op>{}, {}};
}

}  // namespace

std::uint64_t next_number(const Board& board, std::string_view repo) {
  const Repo* r = board.repo(repo);
  if (!r || r->claims.empty()) return 1;
  return r->claims.rbegin()->first + 1;
}

Planned<Op> plan_create(const Board& board, std::string_view repo, std::string title,
                        std::string body, std::vector<std::string> labels, const Random& random) {
  Op op;
  op.kind = Kind::create;
  op.repo = std::string(repo);
  op.num = next_number(board, repo);
  op.title = std::move(title);
  op.body = std::move(body);
  std::set<std::string> seen;
  for (auto& l : labels) {
    if (seen.insert(l).second) op.labels.push_back(std::move(l));
  }
  std::string last;
  if (const Repo* r = board.repo(repo); r && !r->issues.empty()) {
    last = board_order(*r).back()->order.value;
  }
  auto key = key_between(last, "", random);
  if (!key) return fail<Op>(Problem{"order", "no order key fits after " + last.substr(0, 32)});
  op.order = std::move(*key);
  if (auto p = validate(op)) return fail<Op>(*p);
  return Planned<Op>{std::move(op), {}};
}

Planned<std::vector<Op>> plan_add_label(const Board&, const Issue& issue, std::string label) {
  if (auto p = check_label(label)) return fail<std::vector<Op>>(*p);
  if (issue.labels.contains(label)) return none();
  if (issue.labels.size() >= kMaxLabels) {
    return fail<std::vector<Op>>(
        Problem{"labels", "the issue has " + std::to_string(kMaxLabels) + " labels already"});
  }
  Op op = base(Kind::add_label, issue);
  op.value = std::move(label);
  return one(std::move(op));
}

Planned<std::vector<Op>> plan_remove_label(const Issue& issue, std::string label) {
  if (auto p = check_label(label)) return fail<std::vector<Op>>(*p);
  if (!issue.labels.contains(label)) return none();
  Op op = base(Kind::remove_label, issue);
  op.tags = issue.labels.tags(label);
  op.value = std::move(label);
  // More concurrent adds of one label than a remove can name: the first remove takes
  // kMaxTagsPerRemove of them, a second call the rest.
  if (op.tags.size() > kMaxTagsPerRemove) op.tags.resize(kMaxTagsPerRemove);
  return one(std::move(op));
}

Planned<std::vector<Op>> plan_assign(const Issue& issue, std::string who) {
  if (auto p = check_assignee(who)) return fail<std::vector<Op>>(*p);
  if (issue.assignees.contains(who)) return none();
  if (issue.assignees.size() >= kMaxAssignees) {
    return fail<std::vector<Op>>(Problem{
        "assignees", "the issue has " + std::to_string(kMaxAssignees) + " assignees already"});
  }
  Op op = base(Kind::assign, issue);
  op.value = std::move(who);
  return one(std::move(op));
}

Planned<std::vector<Op>> plan_unassign(const Issue& issue, std::string who) {
  if (auto p = check_assignee(who)) return fail<std::vector<Op>>(*p);
  if (!issue.assignees.contains(who)) return none();
  Op op = base(Kind::unassign, issue);
  op.tags = issue.assignees.tags(who);
  op.value = std::move(who);
  if (op.tags.size() > kMaxTagsPerRemove) op.tags.resize(kMaxTagsPerRemove);
  return one(std::move(op));
}

Planned<std::vector<Op>> plan_comment(const Issue& issue, std::string body) {
  Op op = base(Kind::comment, issue);
  op.body = std::move(body);
  return one(std::move(op));
}

Planned<std::vector<Op>> plan_edit_comment(const Issue& issue, std::string_view self,
                                           std::string_view comment_id, std::string body) {
  auto it = issue.comments.find(std::string(comment_id));
  if (it == issue.comments.end()) {
    return fail<std::vector<Op>>(
        Problem{"comment", "the issue has no comment " + std::string(comment_id.substr(0, 32))});
  }
  if (it->second.author != self) {
    return fail<std::vector<Op>>(Problem{
        "comment",
        "only the author of a comment may edit it (this one is by " + it->second.author + ")"});
  }
  Op op = base(Kind::edit_comment, issue);
  op.comment = it->second.id;
  op.body = std::move(body);
  return one(std::move(op));
}

Planned<std::vector<Op>> plan_move(const Board& board, const Issue& issue, Place place,
                                   const Issue& target, const Random& random) {
  if (target.repo != issue.repo) {
    return fail<std::vector<Op>>(Problem{"repo", "the issues are in different repos"});
  }
  if (target.id == issue.id) {
    return fail<std::vector<Op>>(Problem{"move", "an issue cannot move next to itself"});
  }
  const Repo* repo = board.repo(issue.repo);
  if (!repo) return fail<std::vector<Op>>(Problem{"repo", "unknown repo " + issue.repo});
  std::vector<const Issue*> order = board_order(*repo);
  auto self = std::find(order.begin(), order.end(), &issue);
  if (self == order.end()) return fail<std::vector<Op>>(Problem{"issue", "unknown issue"});
  const Issue* was_before = self == order.begin() ? nullptr : *(self - 1);
  const Issue* was_after = self + 1 == order.end() ? nullptr : *(self + 1);
  order.erase(self);

  auto at = std::find(order.begin(), order.end(), &target);
  if (at == order.end()) return fail<std::vector<Op>>(Problem{"issue", "unknown target"});
  auto slot = place == Place::before ? at : at + 1;  // the issue goes in front of *slot
  const Issue* lo = slot == order.begin() ? nullptr : *(slot - 1);
  const Issue* hi = slot == order.end() ? nullptr : *slot;
  if (lo == was_before && hi == was_after) return none();

  auto key = key_between(lo ? lo->order.value : "", hi ? hi->order.value : "", random);
  if (key) {
    Op op = base(Kind::move, issue);
    op.order = std::move(*key);
    return one(std::move(op));
  }
  // No key fits: lay the whole board out again, in the order the user asked for.
  order.insert(slot, &issue);
  std::vector<std::string> keys = spread_keys(order.size());
  std::vector<Op> ops;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (order[i]->order.value == keys[i]) continue;
    Op op = base(Kind::move, *order[i]);
    op.order = keys[i];
    ops.push_back(std::move(op));
  }
  return Planned<std::vector<Op>>{std::move(ops), {}};
}

}  // namespace mesh::issues
