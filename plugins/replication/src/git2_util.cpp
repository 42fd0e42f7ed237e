#include "git2_util.hpp"

namespace mesh::repl::git2 {

std::string error(std::string_view what) {
  const git_error* e = git_error_last();
  std::string out(what);
  out += ": ";
  out += e && e->message ? e->message : "unknown libgit2 error";
  return out;
}

std::string hex(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

bool parse_oid(std::string_view s, git_oid* out) {
  if (s.size() != GIT_OID_HEXSZ) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return git_oid_fromstrn(out, s.data(), s.size()) == 0;
}

Repo open_bare(const std::string& dir, std::string* err) {
  Repo repo;
  if (git_repository_open_bare(repo.out(), dir.c_str()) != 0) {
    if (err) *err = error("open repository " + dir);
    return Repo();
  }
  return repo;
}

bool snapshot_refs(const std::string& dir, std::map<std::string, std::string>* out,
                   std::string* err) {
  out->clear();
  Repo repo = open_bare(dir, err);
  if (!repo) return false;
  int rc = for_each_direct_ref(repo.get(), [&](std::string name, std::string oid) {
    (*out)[std::move(name)] = std::move(oid);
  });
  if (rc != 0) {
    *err = error("list refs");
    return false;
  }
  return true;
}

}  // namespace mesh::repl::git2
