#include "commit_close.hpp"

#include <git2.h>

#include <algorithm>
#include <boost/json.hpp>
#include <memory>
#include <set>

#include "commit_refs.hpp"
#include "query.hpp"
#include "validate.hpp"

namespace mesh::issues {
namespace json = boost::json;
namespace {

constexpr std::size_t kMaxUpdates = 1000;
const std::string kZero(40, '0');

bool oid_text(std::string_view s) {
  return (s.size() == 40 || s.size() == 64) &&
         s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool absent(const std::string& oid) {
  return oid.find_first_not_of('0') == std::string::npos;
}

template <typename T, void (*Free)(T*)>
struct Owned {
  T* p = nullptr;
  ~Owned() {
    if (p) Free(p);
  }
  T** out() { return &p; }
};

std::string last_git_error() {
  const ::git_error* e = git_error_last();
  return e && e->message ? e->message : "unknown libgit2 error";
}

}  // namespace

std::optional<RefsEvent> parse_refs_event(std::string_view payload, std::string* error) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  if (!o) return *error = "not a JSON object", std::nullopt;
  RefsEvent out;
  const auto* repo = o->if_contains("repo");
  if (!repo || !repo->is_string() || !valid_repo_name(repo->as_string())) {
    return *error = "no valid repo", std::nullopt;
  }
  out.repo = repo->as_string().c_str();
  // A repo removed or restored (replication's tombstones) moves no branch: nothing to read.
  if (const auto* op = o->if_contains("op"); op && op->is_string() && !o->contains("updates")) {
    if (op->as_string() == "remove" || op->as_string() == "restore") return out;
  }
  const auto* updates = o->if_contains("updates");
  if (!updates || !updates->is_array() || updates->as_array().size() > kMaxUpdates) {
    return *error = "no updates, or more than 1000", std::nullopt;
  }
  for (const auto& u : updates->as_array()) {
    const json::object* uo = u.if_object();
    auto field = [&](const char* k) -> std::string {
      const json::value* x = uo ? uo->if_contains(k) : nullptr;
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    RefUpdate r{field("ref"), field("old"), field("new")};
    bool ref_ok = (r.ref.starts_with("refs/heads/") || r.ref.starts_with("refs/tags/")) &&
                  r.ref.size() <= 1024;
    if (!ref_ok || !oid_text(r.old_oid) || !oid_text(r.new_oid)) {
      return *error = "an update with a bad ref or oid", std::nullopt;
    }
    out.updates.push_back(std::move(r));
  }
  return out;
}

Walked new_commits(const std::filesystem::path& mirror, const std::vector<RefUpdate>& updates,
                   std::size_t max) {
  Walked out;
  git_libgit2_init();
  struct Shutdown {
    ~Shutdown() { git_libgit2_shutdown(); }
  } shutdown;
  Owned<git_repository, git_repository_free> repo;
  if (git_repository_open_bare(repo.out(), mirror.c_str()) != 0) {
    out.error = "cannot open " + mirror.string() + ": " + last_git_error();
    return out;
  }
  Owned<git_reference, git_reference_free> head;
  if (git_reference_lookup(head.out(), repo.p, "HEAD") != 0 ||
      git_reference_type(head.p) != GIT_REFERENCE_SYMBOLIC) {
    return out;  // no default branch: nothing closes
  }
  out.head = git_reference_symbolic_target(head.p);
  Owned<git_revwalk, git_revwalk_free> walk;
  if (git_revwalk_new(walk.out(), repo.p) != 0) {
    out.error = last_git_error();
    return out;
  }
  git_revwalk_sorting(walk.p, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
  bool any = false;
  for (const auto& u : updates) {
    if (u.ref != out.head || absent(u.new_oid)) continue;
    git_oid from{}, to{};
    if (git_oid_fromstr(&to, u.new_oid.c_str()) != 0 || git_revwalk_push(walk.p, &to) != 0) {
      out.error = "cannot walk from " + u.new_oid + ": " + last_git_error();
      return out;
    }
    any = true;
    // An old tip that is gone (a force-push) hides nothing; its commits are not new anyway.
    if (!absent(u.old_oid) && git_oid_fromstr(&from, u.old_oid.c_str()) == 0) {
      git_revwalk_hide(walk.p, &from);
    }
  }
  if (!any) return out;
  git_oid oid{};
  while (git_revwalk_next(&oid, walk.p) == 0) {
    if (out.commits.size() == max) {
      out.truncated = true;
      break;
    }
    Owned<git_commit, git_commit_free> commit;
    if (git_commit_lookup(commit.out(), repo.p, &oid) != 0) continue;
    const char* msg = git_commit_message_raw(commit.p);
    char hex[GIT_OID_HEXSZ + 1] = {0};
    git_oid_tostr(hex, sizeof hex, &oid);
    out.commits.push_back(CommitMessage{hex, msg ? msg : ""});
  }
  std::reverse(out.commits.begin(), out.commits.end());
  return out;
}

ClosePlan plan_closes(const Board& board, const std::string& repo,
                      const std::vector<CommitMessage>& commits) {
  ClosePlan out;
  std::set<std::string> closing;  // issue ids already planned
  for (const auto& c : commits) {
    for (const ClosingRef& ref : closing_refs(c.message)) {
      std::string in = ref.repo.empty() ? repo : ref.repo;
      std::string shown = (ref.repo.empty() ? "" : ref.repo) + ref.ref;
      Resolved r = resolve(board, in, ref.ref);
      if (!r.issue) {
        out.notes.push_back(shown + " in commit " + c.oid.substr(0, 12) +
                            " closes nothing: " + r.problem.message);
        continue;
      }
      if (r.issue->state.value.state == State::closed) {
        out.notes.push_back(shown + " in commit " + c.oid.substr(0, 12) + ": closed already");
        continue;
      }
      if (!closing.insert(r.issue->id).second) continue;
      Op op;
      op.kind = Kind::set_state;
      op.repo = in;
      op.issue = r.issue->id;
      op.state = State::closed;
      op.commit = c.oid;
      out.closes.push_back(Closing{std::move(op), shown, c.oid.substr(0, 12)});
    }
  }
  return out;
}

}  // namespace mesh::issues
