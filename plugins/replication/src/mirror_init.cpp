#include "mirror_init.hpp"

#include <git2.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

#include "git2_util.hpp"

namespace mesh::repl {
namespace fs = std::filesystem;

namespace {

fs::path aside_path(const fs::path& dir) {
  static std::atomic<std::uint64_t> counter{0};
  return dir.parent_path() / (std::string(kMirrorTmpPrefix) + std::to_string(::getpid()) + "-" +
                              std::to_string(counter.fetch_add(1)) + "-" + dir.filename().string());
}

// A configured bare repository at `tmp` (which must not exist); false with *err, and nothing
// left, on failure.
bool make_mirror(const fs::path& tmp, const fs::path& dir, std::string* err) {
  std::error_code ec;
  auto fail = [&](const std::string& what) {
    *err = git2::error(what);
    fs::remove_all(tmp, ec);
    return false;
  };
  git_repository_init_options init = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  init.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_NO_REINIT | GIT_REPOSITORY_INIT_MKDIR;
  init.initial_head = "main";
  bool ok = false;
  {
    git2::Repo repo;
    if (git_repository_init_ext(repo.out(), tmp.c_str(), &init) != 0)
      return fail("git init " + dir.string());
    git2::Config cfg;
    ok = git_repository_config(cfg.out(), repo.get()) == 0 &&
         git_config_set_bool(cfg.get(), "receive.fsckObjects", 1) == 0 &&
         git_config_set_bool(cfg.get(), "transfer.fsckObjects", 1) == 0 &&
         git_config_set_bool(cfg.get(), "fetch.fsckObjects", 1) == 0 &&
         // A reflog for every ref: no ref ever moves without a record.
         git_config_set_string(cfg.get(), "core.logAllRefUpdates", "always") == 0 &&
         // Force-pushes are allowed; the replication rule decides what other nodes do.
         git_config_set_bool(cfg.get(), "receive.denyNonFastForwards", 0) == 0;
  }
  if (!ok) return fail("configuring " + dir.string());
  return true;
}

}  // namespace

MirrorInit init_mirror(const fs::path& dir, std::string* err) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return MirrorInit::existed;
  fs::create_directories(dir.parent_path(), ec);
  const fs::path tmp = aside_path(dir);
  if (!make_mirror(tmp, dir, err)) return MirrorInit::failed;
  if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    int e = errno;
    fs::remove_all(tmp, ec);
    if ((e == EEXIST || e == ENOTEMPTY) && fs::is_directory(dir, ec)) return MirrorInit::existed;
    *err = "create " + dir.string() + ": " + std::generic_category().message(e);
    return MirrorInit::failed;
  }
  return MirrorInit::created;
}

fs::path build_mirror_aside(const fs::path& dir, std::string* err) {
  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  fs::path tmp = aside_path(dir);
  if (!make_mirror(tmp, dir, err)) return {};
  return tmp;
}

bool place_mirror(const fs::path& aside, const fs::path& dir, std::string* err) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    *err = dir.string() + " appeared meanwhile";
    return false;
  }
  if (::rename(aside.c_str(), dir.c_str()) != 0) {
    *err = "create " + dir.string() + ": " + std::generic_category().message(errno);
    return false;
  }
  return true;
}

}  // namespace mesh::repl
