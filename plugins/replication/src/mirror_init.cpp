#include "mirror_init.hpp"

#include <git2.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

namespace mesh::repl {
namespace fs = std::filesystem;

MirrorInit init_mirror(const fs::path& dir, std::string* err) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return MirrorInit::existed;
  const fs::path parent = dir.parent_path();
  fs::create_directories(parent, ec);
  static std::atomic<std::uint64_t> counter{0};
  const fs::path tmp =
      parent / (std::string(kMirrorTmpPrefix) + std::to_string(::getpid()) + "-" +
                std::to_string(counter.fetch_add(1)) + "-" + dir.filename().string());
  auto fail = [&](const std::string& what) {
    const ::git_error* e = git_error_last();
    *err = what + ": " + (e && e->message ? e->message : "unknown libgit2 error");
    fs::remove_all(tmp, ec);
    return MirrorInit::failed;
  };
  git_repository_init_options init = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  init.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_NO_REINIT | GIT_REPOSITORY_INIT_MKDIR;
  init.initial_head = "main";
  git_repository* repo = nullptr;
  if (git_repository_init_ext(&repo, tmp.c_str(), &init) != 0)
    return fail("git init " + dir.string());
  git_config* cfg = nullptr;
  bool ok = git_repository_config(&cfg, repo) == 0 &&
            git_config_set_bool(cfg, "receive.fsckObjects", 1) == 0 &&
            git_config_set_bool(cfg, "transfer.fsckObjects", 1) == 0 &&
            git_config_set_bool(cfg, "fetch.fsckObjects", 1) == 0 &&
            // A reflog for every ref: no ref ever moves without a record.
            git_config_set_string(cfg, "core.logAllRefUpdates", "always") == 0 &&
            // Force-pushes are allowed; the replication rule decides what other nodes do.
            git_config_set_bool(cfg, "receive.denyNonFastForwards", 0) == 0;
  git_config_free(cfg);
  git_repository_free(repo);
  if (!ok) return fail("configuring " + dir.string());
  if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    int e = errno;
    fs::remove_all(tmp, ec);
    if ((e == EEXIST || e == ENOTEMPTY) && fs::is_directory(dir, ec)) return MirrorInit::existed;
    *err = "create " + dir.string() + ": " + std::generic_category().message(e);
    return MirrorInit::failed;
  }
  return MirrorInit::created;
}

}  // namespace mesh::repl
