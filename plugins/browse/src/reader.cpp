#include "reader.hpp"

#include <git2.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <unordered_set>

#include "limits.hpp"
#include "names.hpp"

namespace mesh::browse {
namespace fs = std::filesystem;

namespace {

// Branches and tags peeled (for their time) before the rest are only counted.
constexpr std::size_t kMaxRefsScanned = 2000;

// RAII for libgit2 handles.
template <class T, void (*Free)(T*)>
struct Owned {
  T* p = nullptr;
  Owned() = default;
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (p) Free(p);
  }
  T** out() { return &p; }
  T* get() const { return p; }
};
using OwnedCommit = Owned<git_commit, git_commit_free>;
using OwnedTree = Owned<git_tree, git_tree_free>;
using OwnedBlob = Owned<git_blob, git_blob_free>;
using OwnedObject = Owned<git_object, git_object_free>;
using OwnedRef = Owned<git_reference, git_reference_free>;
using OwnedDiff = Owned<git_diff, git_diff_free>;
using OwnedPatch = Owned<git_patch, git_patch_free>;
using OwnedEntry = Owned<git_tree_entry, git_tree_entry_free>;
using OwnedRefIter = Owned<git_reference_iterator, git_reference_iterator_free>;

std::string git_why() {
  const git_error* e = git_error_last();
  return e && e->message ? e->message : "unknown libgit2 error";
}

void fail(Error* err, Fail kind, std::string message) {
  if (err) *err = Error{kind, std::move(message)};
}

// libgit2's code to our kind, with its message.
void fail_git(Error* err, int rc, const std::string& what) {
  Fail kind = rc == GIT_ENOTFOUND                              ? Fail::not_found
              : rc == GIT_EAMBIGUOUS || rc == GIT_EINVALIDSPEC ? Fail::invalid
                                                               : Fail::internal;
  fail(err, kind, what + ": " + git_why());
}

std::string hex(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1] = {0};
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

bool parse_oid(const std::string& s, git_oid* oid) {
  return s.size() == GIT_OID_HEXSZ && git_oid_fromstr(oid, s.c_str()) == 0;
}

Person person(const git_signature* s) {
  Person p;
  if (!s) return p;
  p.name = valid_utf8_prefix(s->name ? s->name : "", 256);
  p.email = valid_utf8_prefix(s->email ? s->email : "", 256);
  p.time = s->when.time;
  p.offset_min = s->when.offset;
  return p;
}

CommitInfo info_of(git_commit* c) {
  CommitInfo info;
  info.oid = hex(git_commit_id(c));
  const char* msg = git_commit_message(c);
  std::string_view m = msg ? msg : "";
  info.message_cut = m.size() > kMaxMessageBytes;
  info.message = valid_utf8_prefix(m, kMaxMessageBytes);
  // The summary: the first paragraph's first line, as git shows it in --oneline.
  std::string_view first = m.substr(0, std::min(m.find('\n'), m.size()));
  info.summary = valid_utf8_prefix(first, 1024);
  info.author = person(git_commit_author(c));
  info.committer = person(git_commit_committer(c));
  for (unsigned i = 0; i < git_commit_parentcount(c); ++i)
    info.parents.push_back(hex(git_commit_parent_id(c, i)));
  return info;
}

bool lookup_commit(git_repository* repo, const std::string& s, OwnedCommit* c, Error* err) {
  git_oid oid;
  if (!parse_oid(s, &oid)) return fail(err, Fail::invalid, "not a commit id"), false;
  if (int rc = git_commit_lookup(c->out(), repo, &oid); rc != 0)
    return fail_git(err, rc, "commit " + s), false;
  return true;
}

// Commits newest first by committer time, read lazily: git log's own order. libgit2's
// revwalk with GIT_SORT_TIME first walks the whole history (it "limits" every sorted walk),
// which made a 5,000-commit repo's page cost 60 ms; this reads only what it returns, plus the
// parents waiting in the queue.
class TimeWalk {
 public:
  TimeWalk(git_repository* repo, const git_oid& start) : repo_(repo) { push(start); }
  ~TimeWalk() {
    for (auto& [key, c] : queue_) git_commit_free(c);
  }
  TimeWalk(const TimeWalk&) = delete;
  TimeWalk& operator=(const TimeWalk&) = delete;

  // The next commit (owned by the caller), or nullptr at the end; *err set on a read failure.
  git_commit* next(int* err) {
    *err = error_;
    if (queue_.empty() || error_ != 0) return nullptr;
    auto top = queue_.begin();
    git_commit* c = top->second;
    queue_.erase(top);
    for (unsigned i = 0; i < git_commit_parentcount(c); ++i) push(*git_commit_parent_id(c, i));
    *err = error_;
    return c;
  }

 private:
  void push(const git_oid& oid) {
    if (!seen_.insert(std::string(reinterpret_cast<const char*>(oid.id), GIT_OID_RAWSZ)).second)
      return;
    git_commit* c = nullptr;
    if (int rc = git_commit_lookup(&c, repo_, &oid); rc != 0) {
      error_ = rc;
      return;
    }
    // Newest first; ties in the order they were reached.
    queue_.emplace(Key{git_commit_time(c), order_++}, c);
  }
  struct Key {
    std::int64_t time;
    std::uint64_t order;
    bool operator<(const Key& o) const { return time != o.time ? time > o.time : order < o.order; }
  };
  git_repository* repo_;
  std::map<Key, git_commit*> queue_;
  std::unordered_set<std::string> seen_;
  std::uint64_t order_ = 0;
  int error_ = 0;
};

}  // namespace

LibGit2::LibGit2() {
  git_libgit2_init();
}
LibGit2::~LibGit2() {
  git_libgit2_shutdown();
}

std::vector<std::string> list_repos(const fs::path& repos_dir, std::size_t cap,
                                    std::size_t* total) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(repos_dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.ends_with(".git") || !it->is_directory(ec)) continue;
    name.resize(name.size() - 4);
    if (valid_repo_name(name)) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  if (total) *total = out.size();
  if (out.size() > cap) out.resize(cap);
  return out;
}

std::unique_ptr<Repo> Repo::open(const fs::path& repos_dir, std::string_view name, Error* err) {
  if (!valid_repo_name(name)) return fail(err, Fail::invalid, "invalid repo name"), nullptr;
  fs::path dir = repos_dir / (std::string(name) + ".git");
  std::error_code ec;
  if (!fs::is_directory(dir / "objects", ec))
    return fail(err, Fail::not_found, "no repo named " + std::string(name) + " on this node"),
           nullptr;
  git_repository* repo = nullptr;
  if (git_repository_open_ext(&repo, dir.c_str(),
                              GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE,
                              nullptr) != 0) {
    fail(err, Fail::internal, "opening " + std::string(name) + ": " + git_why());
    return nullptr;
  }
  return std::unique_ptr<Repo>(new Repo(repo, std::string(name)));
}

Repo::~Repo() {
  git_repository_free(repo_);
}

RefList Repo::list_refs(const char* glob, std::size_t prefix, std::size_t cap, Error* err) const {
  RefList out;
  OwnedRefIter it;
  if (int rc = git_reference_iterator_glob_new(it.out(), repo_, glob); rc != 0) {
    fail_git(err, rc, "listing refs");
    return out;
  }
  git_reference* ref = nullptr;
  while (git_reference_next(&ref, it.get()) == 0) {
    OwnedRef owned;
    *owned.out() = ref;
    ++out.total;
    if (cap == 0 || out.refs.size() >= kMaxRefsScanned) continue;  // counted only
    std::string_view full = git_reference_name(ref);
    if (full.size() <= prefix || full.size() > prefix + kMaxRefName) continue;
    OwnedObject peeled;
    if (git_reference_peel(peeled.out(), ref, GIT_OBJECT_COMMIT) != 0) continue;
    auto* c = reinterpret_cast<git_commit*>(peeled.get());
    RefTip tip;
    tip.name = valid_utf8(full.substr(prefix));
    tip.oid = hex(git_commit_id(c));
    const char* summary = git_commit_summary(c);
    tip.summary = valid_utf8_prefix(summary ? summary : "", 1024);
    tip.time = git_commit_time(c);
    out.refs.push_back(std::move(tip));
  }
  // Most recent first, then by name: what someone looking for "their" branch expects.
  std::sort(out.refs.begin(), out.refs.end(), [](const RefTip& a, const RefTip& b) {
    return a.time != b.time ? a.time > b.time : a.name < b.name;
  });
  if (out.refs.size() > cap) out.refs.resize(cap);
  return out;
}

RefList Repo::branches(std::size_t cap, Error* err) const {
  return list_refs("refs/heads/*", 11, cap, err);
}
RefList Repo::tags(std::size_t cap, Error* err) const {
  return list_refs("refs/tags/*", 10, cap, err);
}

std::string Repo::default_branch() const {
  auto exists = [&](const std::string& branch) {
    OwnedRef r;
    return git_reference_lookup(r.out(), repo_, ("refs/heads/" + branch).c_str()) == 0;
  };
  {
    OwnedRef head;
    if (git_reference_lookup(head.out(), repo_, "HEAD") == 0 &&
        git_reference_type(head.get()) == GIT_REFERENCE_SYMBOLIC) {
      std::string_view target = git_reference_symbolic_target(head.get());
      if (target.starts_with("refs/heads/")) {
        std::string b(target.substr(11));
        if (exists(b)) return b;
      }
    }
  }
  for (const char* b : {"main", "master"}) {
    if (exists(b)) return b;
  }
  OwnedRefIter it;
  if (git_reference_iterator_glob_new(it.out(), repo_, "refs/heads/*") != 0) return "";
  std::string first;
  const char* name = nullptr;
  while (git_reference_next_name(&name, it.get()) == 0) {
    std::string b = std::string(name).substr(11);
    if (first.empty() || b < first) first = b;
  }
  return first;
}

std::optional<Resolved> Repo::resolve(std::string_view ref, Error* err) const {
  if (!plausible_ref(ref))
    return fail(err, Fail::invalid, "not a branch, tag or commit"), std::nullopt;
  const std::string r(ref);
  for (auto [prefix, kind] : {std::pair{"refs/heads/", Resolved::Kind::branch},
                              std::pair{"refs/tags/", Resolved::Kind::tag}}) {
    std::string full = prefix + r;
    int valid = 0;
    if (git_reference_name_is_valid(&valid, full.c_str()) != 0 || !valid) continue;
    OwnedRef found;
    if (git_reference_lookup(found.out(), repo_, full.c_str()) != 0) continue;
    OwnedObject peeled;
    if (git_reference_peel(peeled.out(), found.get(), GIT_OBJECT_COMMIT) != 0) continue;
    return Resolved{kind, r, hex(git_object_id(peeled.get()))};
  }
  if (valid_hex_oid(ref)) {
    Error why;
    if (auto id = commit_id(ref, &why)) return Resolved{Resolved::Kind::commit, r, *id};
    if (why.kind != Fail::not_found) return fail(err, why.kind, why.message), std::nullopt;
  }
  fail(err, Fail::not_found, "no branch, tag or commit named " + valid_utf8(ref));
  return std::nullopt;
}

std::optional<std::string> Repo::commit_id(std::string_view hex_in, Error* err) const {
  if (!valid_hex_oid(hex_in)) return fail(err, Fail::invalid, "not a commit id"), std::nullopt;
  std::string lower(hex_in);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  git_oid oid;
  if (git_oid_fromstrn(&oid, lower.data(), lower.size()) != 0)
    return fail(err, Fail::invalid, "not a commit id"), std::nullopt;
  OwnedObject obj;
  int rc = git_object_lookup_prefix(obj.out(), repo_, &oid, lower.size(), GIT_OBJECT_COMMIT);
  if (rc == GIT_EAMBIGUOUS)
    return fail(err, Fail::invalid, lower + " names more than one object: give more digits"),
           std::nullopt;
  if (rc != 0) return fail(err, Fail::not_found, "no commit " + lower), std::nullopt;
  return hex(git_object_id(obj.get()));
}

std::vector<CommitInfo> Repo::log(const std::string& from, std::size_t n, bool* more,
                                  Error* err) const {
  std::vector<CommitInfo> out;
  if (more) *more = false;
  git_oid start;
  if (!parse_oid(from, &start)) return fail(err, Fail::invalid, "not a commit id"), out;
  TimeWalk walk(repo_, start);
  int rc = 0;
  while (git_commit* raw = walk.next(&rc)) {
    OwnedCommit c;
    *c.out() = raw;
    if (out.size() == n) {
      if (more) *more = true;
      break;
    }
    out.push_back(info_of(c.get()));
  }
  if (rc != 0) fail_git(err, rc, "log");
  return out;
}

std::optional<CommitInfo> Repo::commit(const std::string& oid, Error* err) const {
  OwnedCommit c;
  if (!lookup_commit(repo_, oid, &c, err)) return std::nullopt;
  return info_of(c.get());
}

std::optional<Found> Repo::find(const std::string& commit, const std::vector<std::string>& path,
                                Error* err) const {
  OwnedCommit c;
  if (!lookup_commit(repo_, commit, &c, err)) return std::nullopt;
  OwnedTree tree;
  if (int rc = git_commit_tree(tree.out(), c.get()); rc != 0)
    return fail_git(err, rc, "tree"), std::nullopt;
  if (path.empty()) return Found{TreeEntry::Kind::tree, hex(git_tree_id(tree.get()))};
  OwnedEntry entry;
  const std::string joined = join_path(path, path.size());
  if (git_tree_entry_bypath(entry.out(), tree.get(), joined.c_str()) != 0)
    return fail(err, Fail::not_found, "no file or directory " + valid_utf8(joined)), std::nullopt;
  Found f;
  f.oid = hex(git_tree_entry_id(entry.get()));
  switch (git_tree_entry_type(entry.get())) {
    case GIT_OBJECT_TREE:
      f.kind = TreeEntry::Kind::tree;
      break;
    case GIT_OBJECT_COMMIT:
      f.kind = TreeEntry::Kind::submodule;
      break;
    default:
      f.kind = git_tree_entry_filemode(entry.get()) == GIT_FILEMODE_LINK ? TreeEntry::Kind::link
                                                                         : TreeEntry::Kind::blob;
  }
  return f;
}

TreeListing Repo::tree(const std::string& tree_oid, std::size_t cap, Error* err) const {
  TreeListing out;
  git_oid oid;
  if (!parse_oid(tree_oid, &oid)) return fail(err, Fail::invalid, "not a tree id"), out;
  OwnedTree t;
  if (int rc = git_tree_lookup(t.out(), repo_, &oid); rc != 0)
    return fail_git(err, rc, "tree"), out;
  const std::size_t n = git_tree_entrycount(t.get());
  out.total = n;
  // Directories first (git stores entries by name), then files, each in stored order.
  for (int pass = 0; pass < 2 && out.entries.size() < cap; ++pass) {
    for (std::size_t i = 0; i < n && out.entries.size() < cap; ++i) {
      const git_tree_entry* e = git_tree_entry_byindex(t.get(), i);
      const bool dir = git_tree_entry_type(e) == GIT_OBJECT_TREE;
      if (dir != (pass == 0)) continue;
      TreeEntry te;
      te.name = git_tree_entry_name(e);
      te.oid = hex(git_tree_entry_id(e));
      if (dir)
        te.kind = TreeEntry::Kind::tree;
      else if (git_tree_entry_type(e) == GIT_OBJECT_COMMIT)
        te.kind = TreeEntry::Kind::submodule;
      else if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK)
        te.kind = TreeEntry::Kind::link;
      else
        te.kind = TreeEntry::Kind::blob;
      out.entries.push_back(std::move(te));
    }
  }
  return out;
}

std::optional<BlobData> Repo::blob(const std::string& oid_hex, std::uint64_t cap,
                                   Error* err) const {
  git_oid oid;
  if (!parse_oid(oid_hex, &oid)) return fail(err, Fail::invalid, "not a blob id"), std::nullopt;
  OwnedBlob b;
  if (int rc = git_blob_lookup(b.out(), repo_, &oid); rc != 0)
    return fail_git(err, rc, "blob"), std::nullopt;
  BlobData out;
  out.size = static_cast<std::uint64_t>(git_blob_rawsize(b.get()));
  const char* data = static_cast<const char*>(git_blob_rawcontent(b.get()));
  std::string_view head(data, std::min<std::uint64_t>(out.size, kBinarySniffBytes));
  out.binary = head.find('\0') != std::string_view::npos;
  if (out.size > cap) {
    out.too_large = true;
  } else {
    out.data.assign(data, out.size);
  }
  return out;
}

std::optional<std::string> Repo::link_target(const std::string& oid, Error* err) const {
  auto b = blob(oid, 4096, err);
  if (!b) return std::nullopt;
  return b->too_large ? std::string("(a link target over 4 KiB)") : valid_utf8(b->data);
}

std::optional<DiffStat> Repo::diffstat(const std::string& commit, std::size_t max_files,
                                       Error* err) const {
  OwnedCommit c;
  if (!lookup_commit(repo_, commit, &c, err)) return std::nullopt;
  OwnedTree tree, parent_tree;
  if (int rc = git_commit_tree(tree.out(), c.get()); rc != 0)
    return fail_git(err, rc, "tree"), std::nullopt;
  DiffStat out;
  if (git_commit_parentcount(c.get()) > 0) {
    OwnedCommit parent;
    if (int rc = git_commit_parent(parent.out(), c.get(), 0); rc != 0)
      return fail_git(err, rc, "parent"), std::nullopt;
    if (int rc = git_commit_tree(parent_tree.out(), parent.get()); rc != 0)
      return fail_git(err, rc, "parent tree"), std::nullopt;
    out.against = hex(git_commit_id(parent.get()));
  }
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.max_size = static_cast<git_off_t>(kMaxDiffBlobBytes);  // larger blobs count as binary
  OwnedDiff diff;
  if (int rc = git_diff_tree_to_tree(diff.out(), repo_, parent_tree.get(), tree.get(), &opts);
      rc != 0)
    return fail_git(err, rc, "diff"), std::nullopt;
  git_diff_find_options find = GIT_DIFF_FIND_OPTIONS_INIT;
  find.flags = GIT_DIFF_FIND_RENAMES;
  find.rename_limit = 1000;
  if (int rc = git_diff_find_similar(diff.get(), &find); rc != 0)
    return fail_git(err, rc, "renames"), std::nullopt;
  out.total_files = git_diff_num_deltas(diff.get());
  for (std::size_t i = 0; i < out.total_files && out.files.size() < max_files; ++i) {
    OwnedPatch patch;
    if (int rc = git_patch_from_diff(patch.out(), diff.get(), i); rc != 0)
      return fail_git(err, rc, "diff"), std::nullopt;
    const git_diff_delta* d = git_diff_get_delta(diff.get(), i);
    DiffFile f;
    f.path = d->new_file.path ? d->new_file.path : "";
    switch (d->status) {
      case GIT_DELTA_ADDED:
        f.status = 'A';
        break;
      case GIT_DELTA_DELETED:
        f.status = 'D';
        f.path = d->old_file.path ? d->old_file.path : f.path;
        break;
      case GIT_DELTA_RENAMED:
        f.status = 'R';
        break;
      case GIT_DELTA_COPIED:
        f.status = 'C';
        break;
      case GIT_DELTA_TYPECHANGE:
        f.status = 'T';
        break;
      default:
        f.status = 'M';
    }
    if ((f.status == 'R' || f.status == 'C') && d->old_file.path) f.old_path = d->old_file.path;
    f.binary = (d->flags & GIT_DIFF_FLAG_BINARY) != 0;
    if (!f.binary && patch.get()) {
      size_t ctx = 0, adds = 0, dels = 0;
      git_patch_line_stats(&ctx, &adds, &dels, patch.get());
      f.additions = adds;
      f.deletions = dels;
      // A patch can learn that a blob is binary only while loading it.
      f.binary = (git_patch_get_delta(patch.get())->flags & GIT_DIFF_FLAG_BINARY) != 0;
    }
    out.additions += f.additions;
    out.deletions += f.deletions;
    out.files.push_back(std::move(f));
  }
  return out;
}

std::vector<std::uint32_t> Repo::activity(const std::string& from, std::int64_t now,
                                          std::size_t days, Error* err) const {
  std::vector<std::uint32_t> counts(days, 0);
  if (days == 0) return counts;
  git_oid start;
  if (!parse_oid(from, &start)) return fail(err, Fail::invalid, "not a commit id"), counts;
  const std::int64_t today = now >= 0 ? now / 86400 : (now - 86399) / 86400;
  const std::int64_t first_day = today - static_cast<std::int64_t>(days) + 1;
  TimeWalk walk(repo_, start);
  int rc = 0;
  for (std::size_t walked = 0; walked < kMaxActivityCommits; ++walked) {
    OwnedCommit c;
    *c.out() = walk.next(&rc);
    if (!c.get()) break;
    const std::int64_t t = git_commit_time(c.get());
    const std::int64_t day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    // Newest first by committer time: the first commit before the window ends the walk.
    if (day < first_day) break;
    if (day <= today) ++counts[static_cast<std::size_t>(day - first_day)];
  }
  if (rc != 0) fail_git(err, rc, "activity");
  return counts;
}

}  // namespace mesh::browse
