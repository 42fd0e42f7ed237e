#include "mirror.hpp"

#include <git2.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <system_error>

#include "git2_util.hpp"
#include "mesh/member_cert.hpp"
#include "mirror_init.hpp"
#include "names.hpp"
#include "parked.hpp"

namespace mesh::repl {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kIncoming = "refs/mesh/incoming/";
constexpr std::string_view kTrashSep = ".git.";

using git2::hex;
using git2::parse_oid;

bool is_commit(git_repository* repo, const git_oid* oid) {
  git2::Object obj;
  return git_object_lookup(obj.out(), repo, oid, GIT_OBJECT_ANY) == 0 &&
         git_object_type(obj.get()) == GIT_OBJECT_COMMIT;
}

bool descends(git_repository* repo, const std::string& a, const std::string& b) {
  git_oid oa, ob;
  if (!parse_oid(a, &oa) || !parse_oid(b, &ob)) return false;
  if (!is_commit(repo, &oa) || !is_commit(repo, &ob)) return a == b;
  if (a == b) return true;
  return git_graph_descendant_of(repo, &oa, &ob) == 1;
}

// "<repo>.git.<ms>" -> (repo, ms); false for anything else.
bool parse_trash_name(const std::string& name, std::string* repo, std::int64_t* ms) {
  auto at = name.rfind(kTrashSep);
  if (at == std::string::npos) return false;
  *repo = name.substr(0, at);
  std::string digits = name.substr(at + kTrashSep.size());
  if (digits.empty() || digits.size() > 18 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *ms = std::stoll(digits);
  return valid_repo_name(*repo);
}

// Lock files only ever exist while a git or libgit2 writer holds them; at start nothing does.
bool stale_lock(const fs::path& p) {
  return p.filename().string().ends_with(".lock");
}

}  // namespace

bool replicated_ref(std::string_view name) {
  return (name.starts_with("refs/heads/") || name.starts_with("refs/tags/")) &&
         valid_ref_name(name);
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
  for (auto& [name, oid] : all_refs(repo, err)) {
    if (replicated_ref(name)) out.emplace(name, oid);
  }
  return out;
}

std::map<std::string, std::string> Mirrors::all_refs(const std::string& repo,
                                                     std::string* err) const {
  std::map<std::string, std::string> out;
  git2::Repo r = git2::open_bare(path_of(repo).string(), err);
  if (!r) return out;
  int rc = git2::for_each_direct_ref(r.get(), [&](std::string name, std::string oid) {
    if (replicated_ref(name) || (name.starts_with("refs/mesh/") && !name.starts_with(kIncoming))) {
      out.emplace(std::move(name), std::move(oid));
    }
  });
  if (rc != 0 && err) *err = git2::error("listing refs of " + repo);
  return out;
}

std::string Mirrors::digest(const std::map<std::string, std::string>& refs) {
  std::uint64_t h = 1469598103934665603ull;
  bool any = false;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  for (const auto& [name, oid] : refs) {
    if (!replicated_ref(name) && !(parse_parked_name(name) && name.starts_with(kParkedPrefix))) {
      continue;  // never replicated, so never compared
    }
    any = true;
    mix(name);
    mix(" ");
    mix(oid);
    mix("\n");
  }
  if (!any) return {};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool Mirrors::has_object(const std::string& repo, const std::string& oid) const {
  git_oid id;
  if (!parse_oid(oid, &id)) return false;
  git2::Repo r = git2::open_bare(path_of(repo).string(), nullptr);
  git2::Odb odb;
  if (!r || git_repository_odb(odb.out(), r.get()) != 0) return false;
  return git_odb_exists(odb.get(), &id) == 1;
}

bool Mirrors::contains(const std::string& repo, const std::string& a, const std::string& b) const {
  git2::Repo r = git2::open_bare(path_of(repo).string(), nullptr);
  return r && descends(r.get(), a, b);
}

struct Mirrors::Graph::Impl {
  git2::Repo repo;
  git2::Odb odb;
};

Mirrors::Graph::Graph(const Mirrors& mirrors, const std::string& repo)
    : impl_(std::make_unique<Impl>()) {
  impl_->repo = git2::open_bare(mirrors.path_of(repo).string(), nullptr);
  if (impl_->repo) git_repository_odb(impl_->odb.out(), impl_->repo.get());
}

Mirrors::Graph::~Graph() = default;

bool Mirrors::Graph::has(const std::string& oid) const {
  git_oid id;
  return impl_->odb && parse_oid(oid, &id) && git_odb_exists(impl_->odb.get(), &id) == 1;
}

bool Mirrors::Graph::contains(const std::string& a, const std::string& b) const {
  return impl_->repo && descends(impl_->repo.get(), a, b);
}

namespace {

// libgit2's certificate_check: the host's TLS stream reached some member; this is the one we
// wanted only if its certificate carries that member's key.
struct FetchContext {
  const std::string& peer_id;
  const std::atomic<bool>* cancel;
};

bool cancelled(void* payload) {
  const auto* c = static_cast<const FetchContext*>(payload)->cancel;
  return c && c->load();
}

int check_member(git_cert* cert, int, const char*, void* payload) {
  if (cancelled(payload)) return GIT_EUSER;
  const auto& want = static_cast<const FetchContext*>(payload)->peer_id;
  if (want.empty()) return 0;
  if (!cert || cert->cert_type != GIT_CERT_X509) {
    git_error_set_str(GIT_ERROR_NET, "mesh: the server showed no member certificate");
    return GIT_ECERTIFICATE;
  }
  const auto* x509 = reinterpret_cast<const git_cert_x509*>(cert);
  if (sdk::certificate_member_id(x509->data, x509->len) == want) return 0;
  git_error_set_str(GIT_ERROR_NET, ("mesh: the server is not " + want).c_str());
  return GIT_ECERTIFICATE;
}

// Progress callbacks: a non-zero answer makes libgit2 stop the fetch (a job gave up on it).
int on_transfer(const git_indexer_progress*, void* payload) {
  return cancelled(payload) ? GIT_EUSER : 0;
}
int on_sideband(const char*, int, void* payload) {
  return cancelled(payload) ? GIT_EUSER : 0;
}

}  // namespace

std::string Mirrors::fetch(const std::string& repo, const std::string& url,
                           const std::string& peer_id,
                           std::map<std::string, std::string>* advertised,
                           const std::atomic<bool>* cancel) const {
  std::string err;
  git2::Repo r = git2::open_bare(path_of(repo).string(), &err);
  if (!r) return err;
  git2::Remote remote;
  git_remote_create_options ropts = GIT_REMOTE_CREATE_OPTIONS_INIT;
  ropts.repository = r.get();
  // No url.*.insteadOf rewriting (mirrors have no such config, and Debian's libgit2 1.5.1
  // leaks ~80 KiB of pcre2 match data per lookup: libgit2 PR #6382) and no default refspec.
  ropts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  if (git_remote_create_with_opts(remote.out(), url.c_str(), &ropts) != 0) {
    return git2::error("remote " + url);
  }
  // Each fetch stages under a name of its own: fetches of one repo may overlap (a job stops
  // waiting for one that hangs and fetches from another member).
  static std::atomic<std::uint64_t> serial{0};
  const std::string staging = std::string(kIncoming) + std::to_string(++serial) + "/";
  const std::string heads = "+refs/heads/*:" + staging + "heads/*";
  const std::string tags = "+refs/tags/*:" + staging + "tags/*";
  const std::string parked = "+refs/mesh/parked/*:" + staging + "parked/*";
  char* specs[] = {const_cast<char*>(heads.c_str()), const_cast<char*>(tags.c_str()),
                   const_cast<char*>(parked.c_str())};
  git_strarray refspecs{specs, 3};
  git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
  FetchContext context{peer_id, cancel};
  opts.callbacks.certificate_check = check_member;
  opts.callbacks.transfer_progress = on_transfer;
  opts.callbacks.sideband_progress = on_sideband;
  opts.callbacks.payload = &context;
  opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  opts.update_fetchhead = 0;
  opts.prune = GIT_FETCH_NO_PRUNE;
  std::string result;
  if (git_remote_fetch(remote.get(), &refspecs, &opts, "mesh: fetch") != 0) {
    result = git2::error("fetching " + repo + " from " + url);
  } else if (advertised) {
    const git_remote_head** list = nullptr;
    size_t n = 0;
    if (git_remote_ls(&list, &n, remote.get()) == 0) {
      for (size_t i = 0; i < n; ++i) {
        std::string name = list[i]->name;
        if (replicated_ref(name) || parse_parked_name(name)) {
          (*advertised)[name] = hex(&list[i]->oid);
        }
      }
    }
  }
  // The objects stay; the staging refs go.
  std::vector<std::string> staged;
  git2::for_each_direct_ref(r.get(), [&](std::string name, std::string) {
    if (name.starts_with(staging)) staged.push_back(std::move(name));
  });
  for (const auto& name : staged) {
    git2::Ref ref;
    if (git_reference_lookup(ref.out(), r.get(), name.c_str()) == 0) {
      git_reference_delete(ref.get());
    }
  }
  return result;
}

std::string Mirrors::set_ref(const std::string& repo, const std::string& ref,
                             const std::string& from, const std::string& to, const std::string& why,
                             bool* raced) const {
  *raced = false;
  std::string err;
  git2::Repo r = git2::open_bare(path_of(repo).string(), &err);
  if (!r) return err;
  git_oid from_oid, to_oid;
  if (to == kZeroOid) {
    git2::Ref cur;
    int rc = git_reference_lookup(cur.out(), r.get(), ref.c_str());
    if (rc == GIT_ENOTFOUND) {
      *raced = from != kZeroOid;
      return *raced ? "gone already" : "";
    }
    if (rc != 0) return git2::error("reading " + ref);
    const git_oid* t = git_reference_target(cur.get());
    if (!t || hex(t) != from) {
      *raced = true;
      return "changed meanwhile";
    }
    // libgit2 deletes only if the ref still has the value it was looked up with.
    rc = git_reference_delete(cur.get());
    if (rc == GIT_EMODIFIED) *raced = true;
    return rc == 0 ? "" : git2::error("deleting " + ref);
  }
  if (!parse_oid(to, &to_oid)) return "invalid oid " + to;
  git2::Ref out;
  int rc;
  if (from == kZeroOid) {
    rc = git_reference_create(out.out(), r.get(), ref.c_str(), &to_oid, 0, why.c_str());
    if (rc == GIT_EEXISTS) rc = GIT_EMODIFIED;
  } else {
    if (!parse_oid(from, &from_oid)) return "invalid oid " + from;
    rc = git_reference_create_matching(out.out(), r.get(), ref.c_str(), &to_oid, 1, &from_oid,
                                       why.c_str());
  }
  if (rc == GIT_EMODIFIED) {
    *raced = true;
    return "changed meanwhile";
  }
  return rc == 0 ? "" : git2::error("updating " + ref);
}

void Mirrors::fix_head(const std::string& repo) const {
  git2::Repo r = git2::open_bare(path_of(repo).string(), nullptr);
  if (!r) return;
  git2::Ref head;
  if (git_reference_lookup(head.out(), r.get(), "HEAD") != 0 ||
      git_reference_type(head.get()) != GIT_REFERENCE_SYMBOLIC) {
    return;
  }
  const std::string target = git_reference_symbolic_target(head.get());
  git_oid oid;
  if (git_reference_name_to_id(&oid, r.get(), target.c_str()) == 0) return;  // fine as it is
  std::string pick;
  git2::for_each_direct_ref(r.get(), [&](std::string name, std::string) {
    if (name.starts_with("refs/heads/") && (pick.empty() || name < pick)) pick = name;
  });
  for (const char* preferred : {"refs/heads/main", "refs/heads/master"}) {
    if (git_reference_name_to_id(&oid, r.get(), preferred) == 0) {
      pick = preferred;
      break;
    }
  }
  if (pick.empty()) return;
  git2::Ref out;
  git_reference_symbolic_create(out.out(), r.get(), "HEAD", pick.c_str(), 1, "mesh: HEAD follows");
}

std::vector<std::string> Mirrors::clean_leftovers(const std::string& repo) const {
  std::vector<std::string> removed;
  const fs::path root = path_of(repo);
  std::error_code ec;
  auto remove = [&](const fs::path& p) {
    std::error_code rm;
    if (fs::remove_all(p, rm) > 0 && !rm) removed.push_back(p.lexically_relative(root).string());
  };
  for (auto it = fs::directory_iterator(root / "objects", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with("incoming-") || name.starts_with("tmp_objdir-")) remove(it->path());
  }
  for (auto it = fs::directory_iterator(root / "objects" / "pack", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with("tmp_") || name.starts_with("pack_git2_") || name.starts_with(".tmp-")) {
      remove(it->path());
    }
  }
  for (const char* f : {"HEAD.lock", "packed-refs.lock", "config.lock", "shallow.lock"}) {
    if (fs::exists(root / f, ec)) remove(root / f);
  }
  for (auto it = fs::recursive_directory_iterator(root / "refs", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && stale_lock(it->path())) remove(it->path());
  }
  // Staging refs of fetches that were killed (each fetch removes its own when it ends).
  std::string err;
  if (git2::Repo r = git2::open_bare(root.string(), &err)) {
    std::vector<std::string> staged;
    git2::for_each_direct_ref(r.get(), [&](std::string name, std::string) {
      if (name.starts_with(kIncoming)) staged.push_back(std::move(name));
    });
    for (const auto& name : staged) {
      git2::Ref ref;
      if (git_reference_lookup(ref.out(), r.get(), name.c_str()) == 0 &&
          git_reference_delete(ref.get()) == 0) {
        removed.push_back(name);
      }
    }
  }
  return removed;
}

std::string Mirrors::trash(const std::string& repo, std::int64_t now_ms) const {
  std::error_code ec;
  if (!fs::is_directory(path_of(repo), ec)) return "";
  fs::create_directories(trash_dir(), ec);
  fs::path to = trash_dir() / (repo + std::string(kTrashSep) + std::to_string(now_ms));
  fs::rename(path_of(repo), to, ec);
  return ec ? "moving " + repo + " to the trash: " + ec.message() : "";
}

bool Mirrors::in_trash(const std::string& repo) const {
  std::error_code ec;
  for (auto it = fs::directory_iterator(trash_dir(), ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name;
    std::int64_t ms = 0;
    if (parse_trash_name(it->path().filename().string(), &name, &ms) && name == repo) return true;
  }
  return false;
}

std::string Mirrors::restore_from_trash(const std::string& repo) const {
  std::error_code ec;
  if (fs::exists(path_of(repo), ec)) return "";  // here already
  fs::path newest;
  std::int64_t newest_ms = -1;
  for (auto it = fs::directory_iterator(trash_dir(), ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name;
    std::int64_t ms = 0;
    if (!parse_trash_name(it->path().filename().string(), &name, &ms) || name != repo) continue;
    if (ms > newest_ms) {
      newest_ms = ms;
      newest = it->path();
    }
  }
  if (newest.empty()) return "no copy in the trash";
  fs::rename(newest, path_of(repo), ec);
  return ec ? "restoring " + repo + " from the trash: " + ec.message() : "";
}

std::size_t Mirrors::expire_trash(std::int64_t now_ms, std::int64_t life_ms) const {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(trash_dir(), ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name;
    std::int64_t ms = 0;
    if (parse_trash_name(it->path().filename().string(), &name, &ms) && now_ms - ms > life_ms) {
      std::error_code rm;
      fs::remove_all(it->path(), rm);
      ++n;
    }
  }
  return n;
}

}  // namespace mesh::repl
