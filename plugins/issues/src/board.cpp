#include "board.hpp"

#include <algorithm>

#include "ids.hpp"
#include "limits.hpp"

namespace mesh::issues {

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::applied:
      return "applied";
    case Outcome::pending:
      return "pending";
    case Outcome::refused:
      return "refused";
    case Outcome::duplicate:
      return "duplicate";
    case Outcome::deferred:
      return "deferred";
  }
  return "?";
}

ApplyResult Board::apply(const EventIn& event) {
  ApplyResult result;
  const std::string origin(event.origin);
  auto last = last_seq_.find(origin);
  if (event.seq == 0 || (last != last_seq_.end() && event.seq <= last->second)) {
    // Per-origin order is the host's guarantee, so anything at or below the high-water mark
    // was seen (at-least-once delivery repeats the last event after a crash).
    ++counters_.duplicates;
    result.outcome = Outcome::duplicate;
    return result;
  }
  Meta meta{origin, event.seq, event.lamport, event.wall_ms, op_id(origin, event.seq)};
  ParsedOp parsed = parse_op(event.payload);
  if (parsed.op) {
    result.repo = parsed.op->repo;
    result.issue = parsed.op->kind == Kind::create ? meta.id : parsed.op->issue;
  }

  // The only outcome without side effects: checked before anything changes.
  if (parsed.op && parsed.op->kind != Kind::create && by_id_.count(parsed.op->issue) == 0 &&
      not_issues_.count(parsed.op->issue) == 0) {
    auto count = waiting_count_.find({origin, parsed.op->repo});
    std::size_t mine = count == waiting_count_.end() ? 0 : count->second;
    std::string full;
    if (mine >= limits_.per_origin_repo) {
      full = std::to_string(mine) + " ops from " + origin + " for repo " + parsed.op->repo +
             " already wait for their issues";
    } else if (waiting_total_ >= limits_.total) {
      full = std::to_string(waiting_total_) + " ops already wait for their issues";
    } else if (waiting_bytes_ + event.payload.size() > limits_.total_bytes) {
      full = "the ops waiting for their issues hold " + std::to_string(waiting_bytes_) +
             " bytes already";
    }
    if (!full.empty()) {
      ++counters_.deferred;
      result.outcome = Outcome::deferred;
      result.problem = Problem{"waiting", full + "; this one is deferred"};
      return result;
    }
  }

  last_seq_[origin] = event.seq;
  // The member's quota, charged in its own seq order (never for a duplicate or a deferred
  // event: those are seen again), so the same event passes a limit on every node.
  if (auto p = quota_check(origin, event.payload.size(),
                           parsed.op ? std::optional(parsed.op->kind) : std::nullopt)) {
    not_issues_.insert(meta.id);
    release(meta.id, nullptr, result);
    refuse(meta, result.repo, result.issue, *p, nullptr);
    result.outcome = Outcome::refused;
    result.problem = *p;
    return result;
  }
  MemberUsage& usage = usage_[origin];
  usage.bytes += event.payload.size();
  if (parsed.op && parsed.op->kind == Kind::create) ++usage.issues;
  if (parsed.op && parsed.op->kind == Kind::comment) ++usage.comments;
  if (!parsed.op) {
    not_issues_.insert(meta.id);
    release(meta.id, nullptr, result);
    refuse(meta, {}, {}, parsed.problem, nullptr);
    result.outcome = Outcome::refused;
    result.problem = parsed.problem;
    return result;
  }
  Op& op = *parsed.op;
  if (op.kind == Kind::create) {
    apply_create(std::move(op), meta, result);
    return result;
  }

  not_issues_.insert(meta.id);
  release(meta.id, nullptr, result);
  auto it = by_id_.find(op.issue);
  if (it != by_id_.end()) {
    if (auto p = apply_to(*it->second, op, meta)) {
      refuse(meta, op.repo, op.issue, *p, nullptr);
      result.outcome = Outcome::refused;
      result.problem = *p;
      return result;
    }
    ++counters_.applied;
    result.outcome = Outcome::applied;
    return result;
  }
  if (not_issues_.count(op.issue) != 0) {
    Problem p{"issue", "names " + op.issue + ", which is not an issue"};
    refuse(meta, op.repo, op.issue, p, nullptr);
    result.outcome = Outcome::refused;
    result.problem = p;
    return result;
  }
  ++waiting_count_[{origin, op.repo}];
  ++waiting_total_;
  waiting_bytes_ += event.payload.size();
  counters_.pending_peak = std::max(counters_.pending_peak, waiting_total_);
  waiting_[op.issue].push_back(Waiting{std::string(event.payload), op.repo, std::move(meta)});
  result.outcome = Outcome::pending;
  return result;
}

void Board::apply_create(Op op, const Meta& meta, ApplyResult& result) {
  if (by_id_.count(meta.id) != 0) {  // cannot happen: ids are per (origin, seq), seen once
    Problem p{"issue", "issue " + meta.id + " exists already"};
    refuse(meta, op.repo, meta.id, p, nullptr);
    result.outcome = Outcome::refused;
    result.problem = p;
    return;
  }
  Repo& repo = repos_[op.repo];
  Issue& issue = repo.issues[meta.id];
  issue.id = meta.id;
  issue.repo = op.repo;
  issue.author = meta.origin;
  issue.num = op.num;
  issue.created = meta.stamp();
  issue.created_ms = issue.updated_ms = meta.wall_ms;
  issue.title = {std::move(op.title), issue.created};
  issue.body = {std::move(op.body), issue.created};
  issue.order = {std::move(op.order), issue.created};
  issue.state = {StateValue{}, issue.created};
  for (const auto& label : op.labels) issue.labels.add(label, meta.id);
  repo.claims[op.num].push_back(meta.id);
  auto& claimed = repo.claims[op.num];
  std::sort(claimed.begin(), claimed.end());
  by_id_[meta.id] = &issue;
  ++counters_.applied;
  result.outcome = Outcome::applied;
  release(meta.id, &issue, result);
}

Check Board::apply_to(Issue& issue, const Op& op, const Meta& meta) {
  if (op.repo != issue.repo) {
    return Problem{"repo",
                   "issue " + issue.id + " belongs to repo " + issue.repo + ", not " + op.repo};
  }
  const Stamp stamp = meta.stamp();
  switch (op.kind) {
    case Kind::create:
      return Problem{"issue", "a create names no issue"};
    case Kind::edit_title:
      issue.title.offer(op.title, stamp);
      break;
    case Kind::edit_body:
      issue.body.offer(op.body, stamp);
      break;
    case Kind::set_state:
      issue.state.offer(StateValue{op.state, op.commit}, stamp);
      break;
    case Kind::add_label:
      issue.labels.add(op.value, meta.id);
      break;
    case Kind::remove_label:
      issue.labels.remove(op.value, op.tags);
      break;
    case Kind::assign:
      issue.assignees.add(op.value, meta.id);
      break;
    case Kind::unassign:
      issue.assignees.remove(op.value, op.tags);
      break;
    case Kind::comment: {
      Comment& c = issue.comments[meta.id];
      c.id = meta.id;
      c.author = meta.origin;
      c.created = stamp;
      c.created_ms = meta.wall_ms;
      c.body = {op.body, stamp};
      break;
    }
    case Kind::edit_comment: {
      // Only the author edits, and the author's comment precedes its edit in the author's
      // own feed: if it is not here now it never will be, whatever the delivery order.
      // One problem for both cases, so the refusal reads the same on every node whether or
      // not someone else's comment of that id has arrived yet.
      auto it = issue.comments.find(op.comment);
      if (it == issue.comments.end() || it->second.author != meta.origin) {
        return Problem{"comment", "issue " + issue.id + " has no comment " + op.comment + " by " +
                                      meta.origin + " (only its author may edit a comment)"};
      }
      if (it->second.body.offer(op.body, stamp)) {
        it->second.edited_ms = std::max(it->second.edited_ms, meta.wall_ms);
      }
      break;
    }
    case Kind::move:
      issue.order.offer(op.order, stamp);
      break;
  }
  issue.updated_ms = std::max(issue.updated_ms, meta.wall_ms);
  return std::nullopt;
}

void Board::release(const std::string& id, Issue* issue, ApplyResult& result) {
  auto it = waiting_.find(id);
  if (it == waiting_.end()) return;
  std::vector<Waiting> ops = std::move(it->second);
  waiting_.erase(it);
  for (auto& w : ops) {
    auto count = waiting_count_.find({w.meta.origin, w.repo});
    if (count != waiting_count_.end() && --count->second == 0) waiting_count_.erase(count);
    --waiting_total_;
    waiting_bytes_ -= w.payload.size();
    // In arrival order, which keeps each origin's order (an edit after its comment). The
    // payload parsed when it arrived, so it parses again.
    ParsedOp parsed = parse_op(w.payload);
    Check p = !parsed.op ? Check(parsed.problem)
              : issue    ? apply_to(*issue, *parsed.op, w.meta)
                         : Problem{"issue", "names " + id + ", which is not an issue"};
    if (p) {
      refuse(w.meta, w.repo, id, *p, &result.released_refused);
    } else {
      ++counters_.applied;
      ++result.released;
    }
  }
}

void Board::refuse(const Meta& meta, std::string repo, std::string issue, Problem problem,
                   std::vector<Refusal>* into) {
  ++counters_.refused;
  ++counters_.refused_by_reason[problem.reason];
  Refusal r{meta.origin, meta.seq, std::move(repo), std::move(issue), std::move(problem)};
  if (recent_refusals_.size() == kRecentRefusals) recent_refusals_.pop_front();
  recent_refusals_.push_back(r);
  if (into) into->push_back(std::move(r));
}

const Repo* Board::repo(std::string_view name) const {
  auto it = repos_.find(name);
  return it == repos_.end() ? nullptr : &it->second;
}

std::vector<std::string> Board::repo_names() const {
  std::vector<std::string> out;
  for (const auto& [name, r] : repos_) out.push_back(name);
  return out;
}

const Issue* Board::issue(std::string_view full_id) const {
  auto it = by_id_.find(std::string(full_id));
  return it == by_id_.end() ? nullptr : it->second;
}

MemberUsage Board::usage(std::string_view origin) const {
  auto it = usage_.find(origin);
  return it == usage_.end() ? MemberUsage{} : it->second;
}

Check Board::quota_check(std::string_view origin, std::size_t payload_bytes,
                         std::optional<Kind> kind) const {
  const MemberUsage u = usage(origin);
  const MemberLimits& m = member_limits_;
  const std::string who(origin);
  if (u.bytes + payload_bytes > m.bytes) {
    return Problem{"quota", who + " has published " + std::to_string(u.bytes) +
                                " bytes of issue ops; this one of " +
                                std::to_string(payload_bytes) + " would pass the limit of " +
                                std::to_string(m.bytes) + " per member (max_bytes_per_member)"};
  }
  if (kind == Kind::create && u.issues >= m.issues) {
    return Problem{"quota", who + " has created " + std::to_string(u.issues) +
                                " issues, the limit per member (max_issues_per_member)"};
  }
  if (kind == Kind::comment && u.comments >= m.comments) {
    return Problem{"quota", who + " has written " + std::to_string(u.comments) +
                                " comments, the limit per member (max_comments_per_member)"};
  }
  return std::nullopt;
}

BoardStats Board::stats() const {
  BoardStats s = counters_;
  s.issues = by_id_.size();
  s.pending = waiting_total_;
  s.pending_bytes = waiting_bytes_;
  return s;
}

std::vector<PendingGroup> Board::pending() const {
  std::map<std::pair<std::string, std::string>, PendingGroup> groups;
  for (const auto& [id, ops] : waiting_) {
    for (const auto& w : ops) {
      PendingGroup& g = groups[{w.meta.origin, w.repo}];
      g.origin = w.meta.origin;
      g.repo = w.repo;
      ++g.count;
      if (g.waiting_for.empty() || id < g.waiting_for) g.waiting_for = id;
    }
  }
  std::vector<PendingGroup> out;
  for (auto& [key, g] : groups) out.push_back(std::move(g));
  return out;
}

}  // namespace mesh::issues
