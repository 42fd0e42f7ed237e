#include "actions.hpp"

#include <set>

#include "ids.hpp"
#include "limits.hpp"
#include "query.hpp"

namespace mesh::issues {
namespace {

using Ops = Planned<std::vector<Op>>;

Ops failed(Problem p) {
  return Ops{std::nullopt, std::move(p)};
}
Ops ops(std::vector<Op> v) {
  return Ops{std::move(v), {}};
}

// Appends what `more` plans to `into`; false (and the problem in into) if it failed.
bool add(Ops& into, Ops more) {
  if (!more) {
    into = std::move(more);
    return false;
  }
  for (auto& op : *more.value) into.value->push_back(std::move(op));
  return true;
}

Op on(Kind kind, const Issue& issue) {
  Op op;
  op.kind = kind;
  op.repo = issue.repo;
  op.issue = issue.id;
  return op;
}

Ops checked(Op op) {
  if (auto p = validate(op)) return failed(*p);
  return ops({std::move(op)});
}

Ops state_ops(const Issue& issue, State state) {
  if (issue.state.value.state == state) return ops({});
  Op op = on(Kind::set_state, issue);
  op.state = state;
  return checked(std::move(op));
}

// Label (or assignee) changes with the per-issue limit checked on the result: one `mesh issues
// label +a +b` may not pass it either.
Ops set_changes(const Board& board, const Issue& issue, const std::vector<std::string>& add_values,
                const std::vector<std::string>& remove_values, bool labels) {
  const OrSet& set = labels ? issue.labels : issue.assignees;
  const std::vector<std::string> now = set.values();
  std::set<std::string> result(now.begin(), now.end());
  Ops out = ops({});
  std::set<std::string> removing(remove_values.begin(), remove_values.end());
  for (const auto& v : add_values) {
    if (removing.count(v)) {
      return failed(
          Problem{labels ? "label" : "assignee", "'" + v + "' is both added and removed"});
    }
  }
  for (const auto& v : remove_values) {
    if (!add(out, labels ? plan_remove_label(issue, v) : plan_unassign(issue, v))) return out;
    result.erase(v);
  }
  for (const auto& v : add_values) {
    if (!add(out, labels ? plan_add_label(board, issue, v) : plan_assign(issue, v))) return out;
    result.insert(v);
  }
  std::size_t cap = labels ? kMaxLabels : kMaxAssignees;
  if (result.size() > cap) {
    return failed(Problem{labels ? "labels" : "assignees",
                          std::string("an issue has at most ") + std::to_string(cap) +
                              (labels ? " labels" : " assignees") + "; this would make " +
                              std::to_string(result.size())});
  }
  return out;
}

}  // namespace

bool Actions::known_repo(const std::string& repo) const {
  if (repo_exists_ && repo_exists_(repo)) return true;
  return s_.read([&](const Board& b) { return b.repo(repo) != nullptr; });
}

ActionResult Actions::create(const std::string& repo, std::string title, std::string body,
                             std::vector<std::string> labels) {
  ActionResult out;
  if (auto p = check_repo(repo)) return out.error = p->message, out;
  if (!known_repo(repo)) {
    out.error = "no repo " + repo + " on this node (mesh repos lists them; push it first)";
    return out;
  }
  std::uint64_t num = 0;
  auto published = s_.act([&](const Board& board) -> Ops {
    Planned<Op> c =
        plan_create(board, repo, std::move(title), std::move(body), std::move(labels), s_.random());
    if (!c) return failed(c.problem);
    c.value->num = s_.next_number(board, repo);  // counts this node's creates in flight
    num = c.value->num;
    return checked(std::move(*c.value));
  });
  if (!published.ok) return out.error = published.error, out;
  out.ok = true;
  out.last_seq = published.last_seq;
  out.num = num;
  out.id = op_id(s_.self(), published.last_seq);
  return out;
}

ActionResult Actions::on_issue(
    const std::string& repo, const std::string& id,
    const std::function<Planned<std::vector<Op>>(const Board&, const Issue&)>& plan) {
  ActionResult out;
  if (auto p = check_repo(repo)) return out.error = p->message, out;
  auto published = s_.act([&](const Board& board) -> Ops {
    Resolved r = resolve(board, repo, id);
    if (!r.issue) return failed(r.problem);
    out.id = r.issue->id;
    return plan(board, *r.issue);
  });
  if (!published.ok) return out.error = published.error, out;
  out.ok = true;
  out.last_seq = published.last_seq;
  return out;
}

ActionResult Actions::edit(const std::string& repo, const std::string& id,
                           std::optional<std::string> title, std::optional<std::string> body) {
  return on_issue(repo, id, [&](const Board&, const Issue& issue) -> Ops {
    Ops out = ops({});
    if (title && *title != issue.title.value) {
      Op op = on(Kind::edit_title, issue);
      op.title = std::move(*title);
      if (!add(out, checked(std::move(op)))) return out;
    }
    if (body && *body != issue.body.value) {
      Op op = on(Kind::edit_body, issue);
      op.body = std::move(*body);
      if (!add(out, checked(std::move(op)))) return out;
    }
    return out;
  });
}

ActionResult Actions::comment(const std::string& repo, const std::string& id, std::string body) {
  return on_issue(repo, id, [&](const Board&, const Issue& issue) {
    return plan_comment(issue, std::move(body));
  });
}

ActionResult Actions::edit_comment(const std::string& repo, const std::string& id,
                                   const std::string& comment, std::string body) {
  return on_issue(repo, id, [&](const Board&, const Issue& issue) -> Ops {
    if (comment.size() < 4 || comment.size() > 32 ||
        comment.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return failed(Problem{"comment", "a comment id is 4 to 32 lower-case hex digits"});
    }
    std::vector<const Comment*> found;
    for (const auto& [cid, c] : issue.comments) {
      if (cid.starts_with(comment)) found.push_back(&c);
    }
    if (found.empty()) return failed(Problem{"comment", "the issue has no comment " + comment});
    if (found.size() > 1) {
      return failed(Problem{"comment", "comment " + comment + " is ambiguous: give more digits"});
    }
    return plan_edit_comment(issue, s_.self(), found.front()->id, std::move(body));
  });
}

ActionResult Actions::set_state(const std::string& repo, const std::string& id, State state) {
  return on_issue(repo, id,
                  [&](const Board&, const Issue& issue) { return state_ops(issue, state); });
}

ActionResult Actions::labels(const std::string& repo, const std::string& id,
                             const std::vector<std::string>& add_labels,
                             const std::vector<std::string>& remove_labels) {
  return on_issue(repo, id, [&](const Board& board, const Issue& issue) {
    return set_changes(board, issue, add_labels, remove_labels, true);
  });
}

ActionResult Actions::assignees(const std::string& repo, const std::string& id,
                                const std::vector<std::string>& add_who,
                                const std::vector<std::string>& remove_who) {
  return on_issue(repo, id, [&](const Board& board, const Issue& issue) {
    return set_changes(board, issue, add_who, remove_who, false);
  });
}

ActionResult Actions::move(const std::string& repo, const std::string& id, Place place,
                           const std::string& target) {
  Drop d;
  d.place = place;
  d.target = target;
  return drop(repo, id, d);
}

ActionResult Actions::drop(const std::string& repo, const std::string& id, const Drop& d) {
  return on_issue(repo, id, [&](const Board& board, const Issue& issue) -> Ops {
    Ops out = ops({});
    if (d.place) {
      Resolved t = resolve(board, repo, d.target);
      if (!t.issue) return failed(t.problem);
      if (!add(out, plan_move(board, issue, *d.place, *t.issue, s_.random()))) return out;
    }
    if (d.state && !add(out, state_ops(issue, *d.state))) return out;
    if (!d.add_labels.empty() || !d.remove_labels.empty()) {
      std::vector<std::string> adds, removes;
      for (const auto& l : d.add_labels) {
        if (!issue.labels.contains(l)) adds.push_back(l);
      }
      for (const auto& l : d.remove_labels) {
        if (issue.labels.contains(l)) removes.push_back(l);
      }
      if (!add(out, set_changes(board, issue, adds, removes, true))) return out;
    }
    return out;
  });
}

}  // namespace mesh::issues
