#include "git_repos.hpp"

#include <git2.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <memory>
#include <system_error>
#include <thread>

#include "names.hpp"

namespace mesh::ci {
namespace fs = std::filesystem;
namespace {

template <class F>
auto on_own_thread(F&& fn) -> decltype(fn()) {
  std::optional<decltype(fn())> out;
  std::exception_ptr failure;
  std::thread t([&] {
    try {
      out.emplace(fn());
    } catch (...) {
      failure = std::current_exception();
    }
  });
  t.join();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

std::string git_fail(std::string_view what) {
  const ::git_error* e = git_error_last();
  return std::string(what) + ": " + (e && e->message ? e->message : "unknown libgit2 error");
}

struct RepoPtr {
  git_repository* p = nullptr;
  ~RepoPtr() {
    if (p) git_repository_free(p);
  }
};
struct ObjPtr {
  git_object* p = nullptr;
  ~ObjPtr() {
    if (p) git_object_free(p);
  }
};
struct TreePtr {
  git_tree* p = nullptr;
  ~TreePtr() {
    if (p) git_tree_free(p);
  }
};
struct EntryPtr {
  git_tree_entry* p = nullptr;
  ~EntryPtr() {
    if (p) git_tree_entry_free(p);
  }
};
struct RefPtr {
  git_reference* p = nullptr;
  ~RefPtr() {
    if (p) git_reference_free(p);
  }
};

bool open_bare(const fs::path& path, RepoPtr& r, std::string* err) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    *err = "no mirror " + path.filename().string();
    return false;
  }
  if (git_repository_open_bare(&r.p, path.c_str()) != 0) {
    *err = git_fail("cannot open the mirror");
    return false;
  }
  return true;
}

std::string oid_hex(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1] = {0};
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

// The commit sha names, peeled (an annotated tag to its commit); empty if there is none.
std::string peel_commit(git_repository* repo, const git_oid* oid) {
  ObjPtr obj, commit;
  if (git_object_lookup(&obj.p, repo, oid, GIT_OBJECT_ANY) != 0) return {};
  if (git_object_peel(&commit.p, obj.p, GIT_OBJECT_COMMIT) != 0) return {};
  return oid_hex(git_object_id(commit.p));
}

}  // namespace

GitRepos::GitRepos(fs::path repos_dir) : dir_(std::move(repos_dir)) {
  git_libgit2_init();
}

GitRepos::~GitRepos() {
  git_libgit2_shutdown();
}

fs::path GitRepos::mirror(const std::string& repo) const {
  return dir_ / (repo + ".git");
}

bool GitRepos::exists(const std::string& repo) const {
  std::error_code ec;
  return valid_repo_name(repo) && fs::is_directory(mirror(repo), ec);
}

std::vector<std::string> GitRepos::repos() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() <= 4 || !name.ends_with(".git")) continue;
    name.resize(name.size() - 4);
    if (valid_repo_name(name) && it->is_directory(ec)) out.push_back(name);
    if (out.size() >= 10'000) break;
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::optional<std::string>> GitRepos::read_file(const std::string& repo,
                                                       const std::string& sha,
                                                       const std::string& path,
                                                       std::size_t max_bytes) {
  return on_own_thread([&]() -> Result<std::optional<std::string>> {
    std::string err;
    RepoPtr r;
    if (!open_bare(mirror(repo), r, &err)) return fail(err);
    git_oid oid;
    if (!valid_sha(sha) || git_oid_fromstr(&oid, sha.c_str()) != 0) return fail("bad sha " + sha);
    ObjPtr commit;
    if (git_object_lookup(&commit.p, r.p, &oid, GIT_OBJECT_COMMIT) != 0)
      return fail("commit " + sha.substr(0, 12) + " is not in " + repo + " on this node");
    ObjPtr tree;
    if (git_object_peel(&tree.p, commit.p, GIT_OBJECT_TREE) != 0)
      return fail(git_fail("cannot read the commit's tree"));
    EntryPtr entry;
    int rc = git_tree_entry_bypath(&entry.p, reinterpret_cast<git_tree*>(tree.p), path.c_str());
    if (rc == GIT_ENOTFOUND) return std::optional<std::string>();
    if (rc != 0) return fail(git_fail("cannot read the tree"));
    git_filemode_t mode = git_tree_entry_filemode(entry.p);
    if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE)
      return fail(path + " is not a regular file at " + sha.substr(0, 12));
    ObjPtr blob;
    if (git_tree_entry_to_object(&blob.p, r.p, entry.p) != 0)
      return fail(git_fail("cannot read the file"));
    auto* b = reinterpret_cast<git_blob*>(blob.p);
    git_object_size_t size = git_blob_rawsize(b);
    if (size > max_bytes)
      return fail(path + " is larger than " + std::to_string(max_bytes / 1024) + " KiB");
    return std::optional<std::string>(
        std::string(static_cast<const char*>(git_blob_rawcontent(b)), size));
  });
}

bool GitRepos::has_commit(const std::string& repo, const std::string& sha) {
  if (!valid_repo_name(repo) || !valid_sha(sha)) return false;
  return on_own_thread([&] {
    std::string err;
    RepoPtr r;
    if (!open_bare(mirror(repo), r, &err)) return false;
    git_oid oid;
    git_oid_fromstr(&oid, sha.c_str());
    ObjPtr commit;
    return git_object_lookup(&commit.p, r.p, &oid, GIT_OBJECT_COMMIT) == 0;
  });
}

Result<ResolvedRef> GitRepos::resolve(const std::string& repo, const std::string& what) {
  return on_own_thread([&]() -> Result<ResolvedRef> {
    std::string err;
    RepoPtr r;
    if (!open_bare(mirror(repo), r, &err)) return fail(err);
    if (valid_sha(what)) {
      git_oid oid;
      git_oid_fromstr(&oid, what.c_str());
      std::string sha = peel_commit(r.p, &oid);
      if (sha.empty()) return fail("commit " + what.substr(0, 12) + " is not in " + repo);
      return ResolvedRef{{}, sha};
    }
    std::vector<std::string> names;
    if (what.starts_with("refs/")) {
      names.push_back(what);
    } else {
      names = {"refs/heads/" + what, "refs/tags/" + what};
    }
    for (const auto& name : names) {
      if (!valid_ref(name)) continue;
      RefPtr ref;
      if (git_reference_lookup(&ref.p, r.p, name.c_str()) != 0) continue;
      RefPtr direct;
      if (git_reference_resolve(&direct.p, ref.p) != 0) continue;
      const git_oid* oid = git_reference_target(direct.p);
      if (!oid) continue;
      std::string sha = peel_commit(r.p, oid);
      if (!sha.empty()) return ResolvedRef{name, sha};
    }
    return fail("no branch or tag '" + what + "' in " + repo);
  });
}

Result<std::string> GitRepos::default_branch(const std::string& repo) {
  return on_own_thread([&]() -> Result<std::string> {
    std::string err;
    RepoPtr r;
    if (!open_bare(mirror(repo), r, &err)) return fail(err);
    RefPtr head;
    if (git_reference_lookup(&head.p, r.p, "HEAD") != 0) return fail(git_fail("no HEAD"));
    const char* target = git_reference_symbolic_target(head.p);
    if (!target) return fail("HEAD of " + repo + " is not a branch");
    std::string_view b = branch_of(target);
    if (b.empty()) return fail("HEAD of " + repo + " is not a branch");
    return std::string(b);
  });
}

std::optional<std::string> GitRepos::branch_tip(const std::string& repo,
                                                const std::string& branch) {
  std::string name = "refs/heads/" + branch;
  if (!valid_ref(name)) return std::nullopt;
  return on_own_thread([&]() -> std::optional<std::string> {
    std::string err;
    RepoPtr r;
    if (!open_bare(mirror(repo), r, &err)) return std::nullopt;
    git_oid oid;
    if (git_reference_name_to_id(&oid, r.p, name.c_str()) != 0) return std::nullopt;
    std::string sha = peel_commit(r.p, &oid);
    if (sha.empty()) return std::nullopt;
    return sha;
  });
}

Status GitRepos::checkout(const std::string& repo, const std::string& sha, const fs::path& dir) {
  return on_own_thread([&]() -> Status {
    std::error_code ec;
    if (!valid_sha(sha)) return fail("bad sha");
    if (fs::exists(dir, ec)) return fail(dir.string() + " exists already");
    fs::path objects = fs::absolute(mirror(repo), ec) / "objects";
    if (!fs::is_directory(objects, ec)) return fail("no mirror of " + repo + " on this node");
    {
      RepoPtr wt;
      if (git_repository_init(&wt.p, dir.c_str(), 0) != 0)
        return fail(git_fail("cannot make the worktree"));
    }
    {
      std::ofstream alt(dir / ".git" / "objects" / "info" / "alternates", std::ios::trunc);
      alt << objects.string() << "\n";
      if (!alt) return fail("cannot write the worktree's alternates");
    }
    RepoPtr wt;  // opened again, so its object database sees the alternates
    if (git_repository_open(&wt.p, dir.c_str()) != 0)
      return fail(git_fail("cannot open the worktree"));
    git_oid oid;
    git_oid_fromstr(&oid, sha.c_str());
    if (git_repository_set_head_detached(wt.p, &oid) != 0)
      return fail(git_fail("commit " + sha.substr(0, 12) + " is not in the mirror"));
    git_checkout_options opts;
    git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
    opts.checkout_strategy = GIT_CHECKOUT_FORCE;
    if (git_checkout_head(wt.p, &opts) != 0) return fail(git_fail("checkout failed"));
    return {};
  });
}

}  // namespace mesh::ci
