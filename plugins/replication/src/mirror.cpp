#include "mirror.hpp"

#include <git2.h>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>
#include <system_error>

#include "mirror_init.hpp"
#include "names.hpp"

namespace mesh::repl {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kParkPrefix = "refs/mesh/diverged/";
constexpr std::string_view kIncoming = "refs/mesh/incoming/";
constexpr int kCasAttempts = 3;

std::string last_error(std::string_view what) {
  const ::git_error* e = git_error_last();
  std::string out(what);
  out += ": ";
  out += e && e->message ? e->message : "unknown libgit2 error";
  return out;
}

// RAII for the few libgit2 handles used here.
template <typename T, void (*Free)(T*)>
struct Handle {
  T* p = nullptr;
  Handle() = default;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (p) Free(p);
  }
  T** out() { return &p; }
  T* get() const { return p; }
};
using Repo = Handle<git_repository, git_repository_free>;
using Ref = Handle<git_reference, git_reference_free>;
using RefIter = Handle<git_reference_iterator, git_reference_iterator_free>;
using Remote = Handle<git_remote, git_remote_free>;
using Odb = Handle<git_odb, git_odb_free>;
using Config = Handle<git_config, git_config_free>;
using Object = Handle<git_object, git_object_free>;

std::string hex(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

bool parse_oid(const std::string& s, git_oid* out) {
  return s.size() == GIT_OID_HEXSZ && git_oid_fromstr(out, s.c_str()) == 0;
}

bool replicated_ref(std::string_view name) {
  return name.starts_with("refs/heads/") || name.starts_with("refs/tags/");
}

// The current value of `ref` (kZeroOid if absent), or nullopt on a read error.
std::optional<std::string> current(git_repository* repo, const std::string& ref, std::string* err) {
  git_oid oid;
  int rc = git_reference_name_to_id(&oid, repo, ref.c_str());
  if (rc == GIT_ENOTFOUND) return kZeroOid;
  if (rc != 0) {
    if (err) *err = last_error("reading " + ref);
    return std::nullopt;
  }
  return hex(&oid);
}

bool is_commit(git_repository* repo, const git_oid* oid) {
  Object obj;
  return git_object_lookup(obj.out(), repo, oid, GIT_OBJECT_ANY) == 0 &&
         git_object_type(obj.get()) == GIT_OBJECT_COMMIT;
}

// Whether `a` contains `b` (equal or descendant); false for anything that is not two commits.
bool descends(git_repository* repo, const std::string& a, const std::string& b) {
  if (a == b) return true;
  git_oid oa, ob;
  if (!parse_oid(a, &oa) || !parse_oid(b, &ob)) return false;
  if (!is_commit(repo, &oa) || !is_commit(repo, &ob)) return false;
  return git_graph_descendant_of(repo, &oa, &ob) == 1;
}

// Compare-and-swap: sets `ref` to `to` (kZeroOid deletes) only if it still has `from`.
// Returns 0, GIT_EMODIFIED (lost a race) or another error.
int cas(git_repository* repo, const std::string& ref, const std::string& from,
        const std::string& to, const std::string& why) {
  git_oid from_oid, to_oid;
  if (to == kZeroOid) {
    Ref r;
    int rc = git_reference_lookup(r.out(), repo, ref.c_str());
    if (rc == GIT_ENOTFOUND) return from == kZeroOid ? 0 : GIT_EMODIFIED;
    if (rc != 0) return rc;
    const git_oid* t = git_reference_target(r.get());
    if (!t || hex(t) != from) return GIT_EMODIFIED;
    // libgit2 deletes only if the ref still has the value it was looked up with.
    return git_reference_delete(r.get());
  }
  if (!parse_oid(to, &to_oid)) return GIT_EINVALID;
  Ref out;
  if (from == kZeroOid) {
    int rc = git_reference_create(out.out(), repo, ref.c_str(), &to_oid, 0, why.c_str());
    return rc == GIT_EEXISTS ? GIT_EMODIFIED : rc;
  }
  if (!parse_oid(from, &from_oid)) return GIT_EINVALID;
  return git_reference_create_matching(out.out(), repo, ref.c_str(), &to_oid, 1, &from_oid,
                                       why.c_str());
}

std::string park_name(const std::string& node, const std::string& ref) {
  return std::string(kParkPrefix) + node + "/" + ref;
}

// Splits "refs/mesh/diverged/<node>/<ref>"; false for anything else.
bool parse_park(std::string_view name, std::string* node, std::string* ref) {
  if (!name.starts_with(kParkPrefix)) return false;
  name.remove_prefix(kParkPrefix.size());
  auto slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  *node = std::string(name.substr(0, slash));
  *ref = std::string(name.substr(slash + 1));
  return valid_ref_name(*ref);
}

// Node keys become ref components: keep them to the base32 alphabet.
bool valid_node_key(const std::string& node) {
  if (node.empty() || node.size() > 64) return false;
  for (char c : node) {
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return false;
  }
  return true;
}

template <typename Fn>
int for_each_ref(git_repository* repo, Fn&& fn) {
  RefIter it;
  if (int rc = git_reference_iterator_new(it.out(), repo); rc != 0) return rc;
  git_reference* ref = nullptr;
  int rc = 0;
  while ((rc = git_reference_next(&ref, it.get())) == 0) {
    const git_oid* t =
        git_reference_type(ref) == GIT_REFERENCE_DIRECT ? git_reference_target(ref) : nullptr;
    if (t) fn(std::string(git_reference_name(ref)), hex(t));
    git_reference_free(ref);
  }
  return rc == GIT_ITEROVER ? 0 : rc;
}

}  // namespace

const char* to_string(Applied a) {
  switch (a) {
    case Applied::unchanged:
      return "unchanged";
    case Applied::updated:
      return "updated";
    case Applied::diverged:
      return "diverged";
    case Applied::kept:
      return "kept";
    case Applied::missing:
      return "missing";
  }
  return "?";
}

Mirrors::Mirrors(fs::path repos_dir) : dir_(std::move(repos_dir)) {
  git_libgit2_init();
}
Mirrors::~Mirrors() {
  git_libgit2_shutdown();
}

fs::path Mirrors::path_of(const std::string& repo) const {
  return dir_ / (repo + ".git");
}

std::vector<std::string> Mirrors::list() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    if (!name.ends_with(".git") || !e.is_directory(ec)) continue;
    name.resize(name.size() - 4);
    if (valid_repo_name(name)) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool Mirrors::exists(const std::string& repo) const {
  std::error_code ec;
  return valid_repo_name(repo) && fs::is_directory(path_of(repo) / "objects", ec);
}

std::string Mirrors::ensure(const std::string& repo) const {
  if (!valid_repo_name(repo)) return "invalid repo name";
  std::string err;
  return init_mirror(path_of(repo), &err) == MirrorInit::failed ? err : std::string();
}

std::map<std::string, std::string> Mirrors::refs(const std::string& repo, std::string* err) const {
  std::map<std::string, std::string> out;
  Repo r;
  if (git_repository_open_bare(r.out(), path_of(repo).c_str()) != 0) {
    if (err) *err = last_error("opening " + repo);
    return out;
  }
  int rc = for_each_ref(r.get(), [&](std::string name, std::string oid) {
    if (replicated_ref(name)) out.emplace(std::move(name), std::move(oid));
  });
  if (rc != 0 && err) *err = last_error("listing refs of " + repo);
  return out;
}

std::string Mirrors::digest(const std::map<std::string, std::string>& refs) {
  if (refs.empty()) return {};
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  for (const auto& [name, oid] : refs) {
    if (!valid_ref_name(name)) continue;  // never replicated, so never compared
    mix(name);
    mix(" ");
    mix(oid);
    mix("\n");
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool Mirrors::has_object(const std::string& repo, const std::string& oid) const {
  git_oid id;
  if (!parse_oid(oid, &id)) return false;
  Repo r;
  Odb odb;
  if (git_repository_open_bare(r.out(), path_of(repo).c_str()) != 0 ||
      git_repository_odb(odb.out(), r.get()) != 0) {
    return false;
  }
  return git_odb_exists(odb.get(), &id) == 1;
}

bool Mirrors::contains(const std::string& repo, const std::string& a, const std::string& b) const {
  Repo r;
  if (git_repository_open_bare(r.out(), path_of(repo).c_str()) != 0) return false;
  return repl::descends(r.get(), a, b);
}

std::string Mirrors::fetch(const std::string& repo, const std::string& url,
                           std::map<std::string, std::string>* advertised) const {
  Repo r;
  if (git_repository_open_bare(r.out(), path_of(repo).c_str()) != 0) {
    return last_error("opening " + repo);
  }
  Remote remote;
  git_remote_create_options ropts = GIT_REMOTE_CREATE_OPTIONS_INIT;
  ropts.repository = r.get();
  // No url.*.insteadOf rewriting (mirrors have no such config, and Debian's libgit2 1.5.1
  // leaks ~80 KiB of pcre2 match data per lookup: libgit2 PR #6382) and no default refspec.
  ropts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  if (git_remote_create_with_opts(remote.out(), url.c_str(), &ropts) != 0) {
    return last_error("remote " + url);
  }
  const std::string heads = "+refs/heads/*:" + std::string(kIncoming) + "heads/*";
  const std::string tags = "+refs/tags/*:" + std::string(kIncoming) + "tags/*";
  char* specs[] = {const_cast<char*>(heads.c_str()), const_cast<char*>(tags.c_str())};
  git_strarray refspecs{specs, 2};
  git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
  opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  opts.update_fetchhead = 0;
  opts.prune = GIT_FETCH_NO_PRUNE;
  std::string result;
  if (git_remote_fetch(remote.get(), &refspecs, &opts, "mesh: fetch") != 0) {
    result = last_error("fetching " + repo + " from " + url);
  } else if (advertised) {
    const git_remote_head** list = nullptr;
    size_t n = 0;
    if (git_remote_ls(&list, &n, remote.get()) == 0) {
      for (size_t i = 0; i < n; ++i) {
        std::string name = list[i]->name;
        if (replicated_ref(name) && valid_ref_name(name)) (*advertised)[name] = hex(&list[i]->oid);
      }
    }
  }
  // The objects stay; the staging refs go.
  std::vector<std::string> staged;
  for_each_ref(r.get(), [&](std::string name, std::string) {
    if (name.starts_with(kIncoming)) staged.push_back(std::move(name));
  });
  for (const auto& name : staged) {
    Ref ref;
    if (git_reference_lookup(ref.out(), r.get(), name.c_str()) == 0) {
      git_reference_delete(ref.get());
    }
  }
  return result;
}

Applied Mirrors::apply(const std::string& repo, const RefChange& change, const std::string& node,
                       std::string* err) const {
  if (!valid_ref_name(change.ref) || !valid_node_key(node)) {
    if (err) *err = "invalid ref or node";
    return Applied::kept;
  }
  Repo r;
  if (git_repository_open_bare(r.out(), path_of(repo).c_str()) != 0) {
    if (err) *err = last_error("opening " + repo);
    return Applied::missing;
  }
  const std::string why = "mesh: replicated from " + node;
  for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
    auto mine = current(r.get(), change.ref, err);
    if (!mine) return Applied::kept;
    if (*mine == change.new_oid) {
      clear_resolved(repo, change.ref);
      return Applied::unchanged;
    }
    if (change.new_oid == kZeroOid) {
      if (*mine != change.old_oid) return Applied::kept;
      int rc = cas(r.get(), change.ref, *mine, kZeroOid, why);
      if (rc == GIT_EMODIFIED) continue;
      if (rc != 0) {
        if (err) *err = last_error("deleting " + change.ref);
        return Applied::kept;
      }
      return Applied::updated;
    }
    if (!has_object(repo, change.new_oid)) return Applied::missing;
    if (*mine == change.old_oid ||
        (*mine != kZeroOid && descends(r.get(), change.new_oid, *mine))) {
      int rc = cas(r.get(), change.ref, *mine, change.new_oid, why);
      if (rc == GIT_EMODIFIED) continue;
      if (rc != 0) {
        if (err) *err = last_error("updating " + change.ref);
        return Applied::kept;
      }
      clear_resolved(repo, change.ref);
      return Applied::updated;
    }
    // Neither the pusher saw our value nor is it a fast-forward: keep ours, park theirs.
    git_oid tip;
    Ref out;
    if (!parse_oid(change.new_oid, &tip) ||
        git_reference_create(out.out(), r.get(), park_name(node, change.ref).c_str(), &tip, 1,
                             ("mesh: diverged from " + node).c_str()) != 0) {
      if (err) *err = last_error("parking " + change.ref);
      return Applied::kept;
    }
    return Applied::diverged;
  }
  if (err) *err = change.ref + " kept changing under concurrent pushes";
  return Applied::kept;
}

Applied Mirrors::reconcile(const std::string& repo, const std::string& ref, const std::string& oid,
                           const std::string& node, std::string* err) const {
  Repo r;
  if (git_repository_open_bare(r.out(), path_of(repo).c_str()) != 0) {
    if (err) *err = last_error("opening " + repo);
    return Applied::missing;
  }
  auto mine = current(r.get(), ref, err);
  if (!mine) return Applied::kept;
  if (*mine == oid) return Applied::unchanged;
  if (*mine != kZeroOid && descends(r.get(), *mine, oid)) return Applied::unchanged;  // ahead
  if (*mine != kZeroOid && !descends(r.get(), oid, *mine)) {
    // Already parked at this tip: nothing new.
    auto parked = current(r.get(), park_name(node, ref), nullptr);
    if (parked && *parked == oid) return Applied::unchanged;
  }
  // The rule for an event whose `old` is unknown: create what we lack, fast-forward, or park.
  // (An all-'f' old value matches no real ref.)
  std::string old = *mine == kZeroOid ? kZeroOid : std::string(40, 'f');
  return apply(repo, RefChange{ref, std::move(old), oid}, node, err);
}

int Mirrors::clear_resolved(const std::string& repo, const std::string& ref) const {
  Repo r;
  if (git_repository_open_bare(r.out(), path_of(repo).c_str()) != 0) return 0;
  auto mine = current(r.get(), ref, nullptr);
  if (!mine || *mine == kZeroOid) return 0;
  std::vector<std::pair<std::string, std::string>> parks;
  for_each_ref(r.get(), [&](std::string name, std::string oid) {
    std::string node, parked_ref;
    if (parse_park(name, &node, &parked_ref) && parked_ref == ref) {
      parks.emplace_back(std::move(name), std::move(oid));
    }
  });
  int cleared = 0;
  for (const auto& [name, oid] : parks) {
    if (!descends(r.get(), *mine, oid)) continue;
    Ref p;
    if (git_reference_lookup(p.out(), r.get(), name.c_str()) == 0 &&
        git_reference_delete(p.get()) == 0) {
      ++cleared;
    }
  }
  return cleared;
}

void Mirrors::fix_head(const std::string& repo) const {
  Repo r;
  if (git_repository_open_bare(r.out(), path_of(repo).c_str()) != 0) return;
  Ref head;
  if (git_reference_lookup(head.out(), r.get(), "HEAD") != 0 ||
      git_reference_type(head.get()) != GIT_REFERENCE_SYMBOLIC) {
    return;
  }
  const std::string target = git_reference_symbolic_target(head.get());
  git_oid oid;
  if (git_reference_name_to_id(&oid, r.get(), target.c_str()) == 0) return;  // fine as it is
  std::string pick;
  for_each_ref(r.get(), [&](std::string name, std::string) {
    if (name.starts_with("refs/heads/") && (pick.empty() || name < pick)) pick = name;
  });
  for (const char* preferred : {"refs/heads/main", "refs/heads/master"}) {
    if (git_reference_name_to_id(&oid, r.get(), preferred) == 0) {
      pick = preferred;
      break;
    }
  }
  if (pick.empty()) return;
  Ref out;
  git_reference_symbolic_create(out.out(), r.get(), "HEAD", pick.c_str(), 1, "mesh: HEAD follows");
}

std::vector<Divergence> Mirrors::divergences(const std::string& repo) const {
  std::vector<Divergence> out;
  Repo r;
  if (git_repository_open_bare(r.out(), path_of(repo).c_str()) != 0) return out;
  for_each_ref(r.get(), [&](std::string name, std::string oid) {
    Divergence d;
    if (parse_park(name, &d.node, &d.ref)) {
      d.oid = std::move(oid);
      d.parked_as = std::move(name);
      out.push_back(std::move(d));
    }
  });
  return out;
}

}  // namespace mesh::repl
