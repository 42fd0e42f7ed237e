// The libgit2 pieces every part of the plugin shares: owning handles, error text, oid
// conversion and ref listing. Mirrors (mirror.cpp), the smart HTTP service (git_service.cpp)
// and mirror creation (mirror_init.cpp) use these instead of their own copies.
#pragma once

#include <git2.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mesh::repl::git2 {

// An owning libgit2 handle: `git_xxx_lookup(h.out(), ...)`, then `h.get()`.
template <typename T, void (*Free)(T*)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(T* p) : p_(p) {}
  Handle(Handle&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = o.p_;
      o.p_ = nullptr;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  T** out() {
    reset();
    return &p_;
  }
  T* get() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  void reset() {
    if (p_) Free(p_);
    p_ = nullptr;
  }

 private:
  T* p_ = nullptr;
};

using Repo = Handle<git_repository, git_repository_free>;
using Ref = Handle<git_reference, git_reference_free>;
using RefIter = Handle<git_reference_iterator, git_reference_iterator_free>;
using Remote = Handle<git_remote, git_remote_free>;
using Odb = Handle<git_odb, git_odb_free>;
using Config = Handle<git_config, git_config_free>;
using Object = Handle<git_object, git_object_free>;

// "<what>: <libgit2's last error message>".
std::string error(std::string_view what);

std::string hex(const git_oid* oid);
// A 40-digit lowercase hex oid; false for anything else.
bool parse_oid(std::string_view hex, git_oid* out);

// Opens a bare repository; *err says why not.
Repo open_bare(const std::string& dir, std::string* err);

// Calls fn(name, hex oid) for every direct ref (symbolic refs such as HEAD are skipped: they
// follow a direct one). Returns 0 or the libgit2 error code.
template <typename Fn>
int for_each_direct_ref(git_repository* repo, Fn&& fn) {
  RefIter it;
  if (int rc = git_reference_iterator_new(it.out(), repo); rc != 0) return rc;
  for (;;) {
    git_reference* raw = nullptr;
    int rc = git_reference_next(&raw, it.get());
    if (rc == GIT_ITEROVER) return 0;
    if (rc != 0) return rc;
    Ref ref(raw);
    if (git_reference_type(ref.get()) != GIT_REFERENCE_DIRECT) continue;
    fn(std::string(git_reference_name(ref.get())), hex(git_reference_target(ref.get())));
  }
}

// Every direct ref of the repository at `dir`: name -> oid. False with *err on failure.
bool snapshot_refs(const std::string& dir, std::map<std::string, std::string>* out,
                   std::string* err);

}  // namespace mesh::repl::git2
