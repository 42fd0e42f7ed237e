#include "archive_store.hpp"

#include <algorithm>
#include <system_error>

#include "fsutil.hpp"
#include "minisign.hpp"
#include "release.hpp"

namespace mesh::updater {
namespace fs = std::filesystem;

std::vector<HeldArchive> ArchiveStore::list() const {
  std::vector<HeldArchive> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    auto v = version_from_archive_name(name, build_arch());
    if (!v) continue;
    std::error_code e2;
    if (!fs::is_regular_file(fs::symlink_status(it->path(), e2))) continue;
    if (!fs::is_regular_file(fs::symlink_status(dir_ / (name + ".minisig"), e2))) continue;
    HeldArchive h;
    h.version = *v;
    h.name = name;
    h.size = fs::file_size(it->path(), e2);
    if (e2) continue;
    if (auto hex = read_small_file(dir_ / (name + ".sha256"), 128); hex && parse_sha256_hex(*hex)) {
      h.sha256_hex = *hex;
    }
    out.push_back(std::move(h));
  }
  std::sort(out.begin(), out.end(),
            [](const HeldArchive& a, const HeldArchive& b) { return b.version < a.version; });
  return out;
}

std::optional<fs::path> ArchiveStore::servable(std::string_view file_name) const {
  for (const auto& h : list()) {
    if (file_name == h.name || file_name == h.name + ".minisig") return dir_ / file_name;
  }
  return std::nullopt;
}

Status ArchiveStore::put(const fs::path& archive, const std::string& name,
                         const std::string& signature, const std::string& sha256_hex) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return make_error(Errc::io, "cannot create " + dir_.string() + ": " + ec.message());
  // Signature and digest first: the archive's arrival is what makes the entry complete.
  if (auto st = write_file_durable(dir_ / (name + ".minisig"), signature); !st) return st;
  if (auto st = write_file_durable(dir_ / (name + ".sha256"), sha256_hex); !st) return st;
  fs::rename(archive, dir_ / name, ec);
  if (ec) return make_error(Errc::io, "cannot keep " + name + ": " + ec.message());
  return sync_directory(dir_);
}

void ArchiveStore::prune(std::size_t keep, const std::optional<SemVer>& also) {
  auto held = list();
  std::size_t kept = 0;
  for (const auto& h : held) {
    bool is_also = also && same_precedence(h.version, *also);
    if (kept < keep || is_also) {
      if (!is_also || kept < keep) ++kept;
      continue;
    }
    std::error_code ec;
    for (const char* suffix : {"", ".minisig", ".sha256"}) fs::remove(dir_ / (h.name + suffix), ec);
  }
}

}  // namespace mesh::updater
