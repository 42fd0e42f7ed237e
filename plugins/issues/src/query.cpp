#include "query.hpp"

#include <algorithm>

#include "limits.hpp"

namespace mesh::issues {
namespace {

std::size_t common_prefix(std::string_view a, std::string_view b) {
  std::size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool all_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

std::vector<std::string> capped(std::vector<std::string> values, std::size_t cap, bool& cut) {
  cut = values.size() > cap;
  if (cut) values.resize(cap);
  return values;
}

// At most n bytes of s, not cutting a UTF-8 sequence.
std::string head(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

Problem ambiguous(const Repo& repo, std::string_view text,
                  const std::vector<const Issue*>& candidates) {
  std::string msg = std::string(text) + " is ambiguous:";
  std::size_t shown = 0;
  for (const Issue* i : candidates) {
    if (shown++ == 8) {
      msg += " ...";
      break;
    }
    msg.append(" ")
        .append(display_ref(repo, *i))
        .append(" (")
        .append(head(i->title.value, 40))
        .append(")");
  }
  return Problem{"ambiguous", msg};
}

Problem not_found(std::string_view repo, std::string_view text) {
  return Problem{"not_found", "no issue " + std::string(text) + " in " + std::string(repo)};
}

}  // namespace

std::string display_ref(const Repo& repo, const Issue& issue) {
  std::string ref = std::string(1, '#').append(std::to_string(issue.num));
  auto it = repo.claims.find(issue.num);
  if (it == repo.claims.end() || it->second.size() < 2) return ref;
  std::size_t len = 4;
  for (const auto& other : it->second) {
    if (other != issue.id) len = std::max(len, common_prefix(other, issue.id) + 1);
  }
  return ref + "-" + issue.id.substr(0, len);
}

std::vector<const Issue*> board_order(const Repo& repo) {
  std::vector<const Issue*> out;
  out.reserve(repo.issues.size());
  for (const auto& [id, issue] : repo.issues) out.push_back(&issue);
  std::sort(out.begin(), out.end(), [](const Issue* a, const Issue* b) {
    if (a->order.value != b->order.value) return a->order.value < b->order.value;
    return a->id < b->id;
  });
  return out;
}

std::vector<const Comment*> comments_in_order(const Issue& issue) {
  std::vector<const Comment*> out;
  out.reserve(issue.comments.size());
  for (const auto& [id, c] : issue.comments) out.push_back(&c);
  std::sort(out.begin(), out.end(),
            [](const Comment* a, const Comment* b) { return a->created < b->created; });
  return out;
}

std::optional<StateFilter> parse_state_filter(std::string_view text) {
  if (text == "open") return StateFilter::open;
  if (text == "closed") return StateFilter::closed;
  if (text == "all") return StateFilter::all;
  return std::nullopt;
}

IssueView view_of(const Repo& repo, const Issue& issue, bool with_comments) {
  IssueView v;
  v.id = issue.id;
  v.repo = issue.repo;
  v.ref = display_ref(repo, issue);
  v.num = issue.num;
  v.title = issue.title.value;
  v.author = issue.author;
  v.order = issue.order.value;
  v.state = issue.state.value.state;
  v.closed_by = issue.state.value.commit;
  v.labels = capped(issue.labels.values(), kMaxLabels, v.labels_truncated);
  v.assignees = capped(issue.assignees.values(), kMaxAssignees, v.assignees_truncated);
  v.created_ms = issue.created_ms;
  v.updated_ms = issue.updated_ms;
  if (with_comments) {
    v.body = issue.body.value;
    for (const Comment* c : comments_in_order(issue)) {
      v.comments.push_back(
          CommentView{c->id, c->author, c->body.value, c->created_ms, c->edited_ms});
    }
  }
  return v;
}

std::vector<IssueView> list_issues(const Board& board, std::string_view repo_name,
                                   const ListFilter& filter) {
  std::vector<IssueView> out;
  const Repo* repo = board.repo(repo_name);
  if (!repo) return out;
  for (const Issue* issue : board_order(*repo)) {
    State s = issue->state.value.state;
    if (filter.state == StateFilter::open && s != State::open) continue;
    if (filter.state == StateFilter::closed && s != State::closed) continue;
    if (!filter.label.empty() && !issue->labels.contains(filter.label)) continue;
    out.push_back(view_of(*repo, *issue, false));
  }
  return out;
}

Resolved resolve(const Board& board, std::string_view repo_name, std::string_view text) {
  Resolved out;
  const Repo* repo = board.repo(repo_name);
  if (text.size() > 64) {  // far longer than any valid form
    out.problem = Problem{"id", "invalid issue id (too long)"};
    return out;
  }
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  std::string_view t = lower;
  bool hash = !t.empty() && t.front() == '#';
  if (hash) t.remove_prefix(1);
  std::string_view num_part = t.substr(0, t.find('-'));
  std::string_view suffix =
      num_part.size() < t.size() ? t.substr(num_part.size() + 1) : std::string_view{};
  bool numeric = all_digits(num_part) && num_part.size() <= 10 &&
                 (num_part.size() == t.size() || all_hex(suffix));
  if (numeric) {
    std::uint64_t num = std::stoull(std::string(num_part));
    if (!repo) return Resolved{nullptr, not_found(repo_name, text)};
    auto it = repo->claims.find(num);
    std::vector<const Issue*> matches;
    if (it != repo->claims.end()) {
      for (const auto& id : it->second) {
        if (id.starts_with(suffix)) matches.push_back(&repo->issues.at(id));
      }
    }
    if (matches.size() == 1) return Resolved{matches.front(), {}};
    if (matches.empty()) return Resolved{nullptr, not_found(repo_name, text)};
    return Resolved{nullptr, ambiguous(*repo, text, matches)};
  }
  if (hash || t.size() < 4 || t.size() > 32 || !all_hex(t)) {
    out.problem = Problem{"id",
                          "invalid issue id (#12, 12, #12-3fa9 or at least 4 hex digits "
                          "of the full id)"};
    return out;
  }
  if (!repo) return Resolved{nullptr, not_found(repo_name, text)};
  std::vector<const Issue*> matches;
  for (auto it = repo->issues.lower_bound(std::string(t));
       it != repo->issues.end() && it->first.starts_with(t); ++it) {
    matches.push_back(&it->second);
  }
  if (matches.size() == 1) return Resolved{matches.front(), {}};
  if (matches.empty()) return Resolved{nullptr, not_found(repo_name, text)};
  return Resolved{nullptr, ambiguous(*repo, text, matches)};
}

}  // namespace mesh::issues
