// test-git: a plugin that uses libgit2 over https itself, to show that any plugin's libgit2
// reaches members through the host's TLS stream (issue #8), with or without replication.
//   mesh git-clone URL PEER-ID|any
//       clones URL (bare, into <data_dir>/clone-N) and prints "<oid> <ref>" for each branch;
//       with a PEER-ID its certificate_check accepts only that member's certificate
//       (mesh::sdk::certificate_member_id). Exit 1 with libgit2's message on failure.
#include <git2.h>

#include <atomic>
#include <string>

#include "mesh/member_cert.hpp"
#include "mesh/plugin.hpp"

namespace {

// The clone's remote without url.*.insteadOf lookups: Debian's libgit2 1.5.1 leaks the pcre2
// match data of every config glob that matches nothing (libgit2 PR #6382), as replication's
// Mirrors::fetch notes too; LeakSanitizer reports it from the daemon.
int create_remote(git_remote** out, git_repository* repo, const char* name, const char* url,
                  void*) {
  git_remote_create_options o = GIT_REMOTE_CREATE_OPTIONS_INIT;
  o.repository = repo;
  o.name = name;
  o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
  return git_remote_create_with_opts(out, url, &o);
}

int check_member(git_cert* cert, int, const char*, void* payload) {
  const auto& want = *static_cast<const std::string*>(payload);
  if (want.empty()) return 0;
  if (!cert || cert->cert_type != GIT_CERT_X509) return GIT_ECERTIFICATE;
  const auto* x = reinterpret_cast<const git_cert_x509*>(cert);
  if (mesh::sdk::certificate_member_id(x->data, x->len) == want) return 0;
  git_error_set_str(GIT_ERROR_NET, ("test-git: the server is not " + want).c_str());
  return GIT_ECERTIFICATE;
}

class GitPlugin : public mesh::sdk::Plugin {
 public:
  void start() override {
    git_libgit2_init();
    data_dir_ = host().data_dir();
    verb("git-clone", "git-clone URL PEER-ID|any (test plugin)",
         [this](const mesh::sdk::CliRequest& c) {
           if (c.args().size() != 2)
             return void(c.reply(2, "usage: mesh git-clone URL PEER-ID|any\n"));
           std::string url(c.args()[0]), pin(c.args()[1]);
           if (pin == "any") pin.clear();
           std::string out;
           int rc = clone(url, pin, &out);
           c.reply(rc, out);
         });
  }
  void stop() override { git_libgit2_shutdown(); }

 private:
  // 0 and the branches, or 1 and why.
  int clone(const std::string& url, const std::string& pin, std::string* out) {
    const std::string dir = data_dir_ + "/clone-" + std::to_string(++n_);
    git_clone_options opts = GIT_CLONE_OPTIONS_INIT;
    opts.bare = 1;
    opts.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
    opts.fetch_opts.callbacks.certificate_check = check_member;
    opts.fetch_opts.callbacks.payload = const_cast<std::string*>(&pin);
    opts.remote_cb = create_remote;
    git_repository* repo = nullptr;
    if (git_clone(&repo, url.c_str(), dir.c_str(), &opts) != 0) {
      const git_error* e = git_error_last();
      *out = std::string("clone failed: ") + (e && e->message ? e->message : "unknown") + "\n";
      return 1;
    }
    git_reference_iterator* it = nullptr;
    if (git_reference_iterator_glob_new(&it, repo, "refs/heads/*") == 0) {
      git_reference* ref = nullptr;
      while (git_reference_next(&ref, it) == 0) {
        if (const git_oid* oid = git_reference_target(ref)) {
          char hex[GIT_OID_HEXSZ + 1];
          git_oid_tostr(hex, sizeof hex, oid);
          *out += std::string(hex) + " " + git_reference_name(ref) + "\n";
        }
        git_reference_free(ref);
      }
      git_reference_iterator_free(it);
    }
    git_repository_free(repo);
    return 0;
  }

  std::string data_dir_;
  std::atomic<unsigned> n_{0};
};

}  // namespace

MESH_PLUGIN(GitPlugin, "test-git", "1.0.0");
