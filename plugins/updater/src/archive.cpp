#include "archive.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "archive_rules.hpp"

namespace mesh::updater {
namespace fs = std::filesystem;
namespace {

Error read_error(archive* a) {
  return make_error(Errc::invalid,
                    "corrupt or truncated archive: " + archive_message(a, "read error"));
}

// One pass over every header; `on_entry` sees each accepted entry with the reader positioned
// at its data, and must consume or skip that data.
template <class OnEntry>
Result<ArchiveSummary> each_entry(const OpenFile& file, std::string_view top,
                                  const ArchiveLimits& limits, OnEntry&& on_entry) {
  ArchiveReader r;
  if (auto st = open_reader(r, file); !st) return st.error();
  EntryRules rules(top, limits);
  while (true) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(r.a, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK) return read_error(r.a);
    auto checked = rules.check(entry);
    if (!checked) return checked.error();
    if (auto st = on_entry(r.a, entry, *checked); !st) return st.error();
    if (auto st = rules.check_expanded(archive_filter_bytes(r.a, 0)); !st) return st.error();
  }
  if (rules.summary().entries == 0) return make_error(Errc::invalid, "the archive is empty");
  if (auto st = rules.finish(); !st) return st.error();
  return rules.summary();
}

struct DiskWriter {
  archive* w = nullptr;
  ~DiskWriter() {
    if (w) archive_write_free(w);
  }
};

Status copy_data(archive* in, archive* out, const CheckedEntry& entry, const std::string& shown) {
  std::uint64_t written = 0;
  while (true) {
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int rc = archive_read_data_block(in, &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK) return read_error(in);
    written += size;
    if (written > entry.size) {
      return make_error(Errc::unsafe_archive, "archive entry '" + shown +
                                                  "' holds more data "
                                                  "than it declares");
    }
    if (archive_write_data_block(out, buf, size, offset) != ARCHIVE_OK) {
      return make_error(Errc::io, "cannot write " + shown + ": " + archive_message(out));
    }
  }
  return {};
}

Status sync_tree(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::io, "cannot open " + dir.string());
  int rc = ::syncfs(fd);
  ::close(fd);
  if (rc != 0) return make_error(Errc::io, "cannot sync " + dir.string());
  return {};
}

}  // namespace

Result<ArchiveSummary> check_archive(const OpenFile& file, std::string_view top,
                                     const ArchiveLimits& limits) {
  return each_entry(file, top, limits, [](archive* a, archive_entry*, const CheckedEntry&) {
    if (archive_read_data_skip(a) != ARCHIVE_OK) return Status(read_error(a));
    return Status();
  });
}

Result<ArchiveSummary> extract_archive(const OpenFile& file, std::string_view top,
                                       const fs::path& target, const ArchiveLimits& limits) {
  auto checked = check_archive(file, top, limits);
  if (!checked) return checked;

  std::error_code ec;
  fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  fs::create_directories(parent, ec);
  // No symlink in the prefix: libarchive's symlink checks then mean exactly the tree's own.
  parent = fs::canonical(parent, ec);
  if (ec) return make_error(Errc::io, "cannot resolve " + target.parent_path().string());
  fs::path final_path = parent / target.filename();
  if (fs::exists(fs::symlink_status(final_path, ec))) {
    return make_error(Errc::io, final_path.string() + " already exists");
  }
  std::string tmpl = (parent / ("." + target.filename().string() + ".partial-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) {
    return make_error(
        Errc::io, "cannot create a directory in " + parent.string() + ": " + std::strerror(errno));
  }
  fs::path tmp = tmpl;
  auto fail = [&](Error e) -> Result<ArchiveSummary> {
    std::error_code rm;
    fs::remove_all(tmp, rm);
    return e;
  };

  DiskWriter disk;
  disk.w = archive_write_disk_new();
  if (!disk.w) return fail(make_error(Errc::io, "libarchive: out of memory"));
  archive_write_disk_set_options(
      disk.w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                  ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_NO_OVERWRITE);

  auto extracted = each_entry(
      file, top, limits, [&](archive* in, archive_entry* entry, const CheckedEntry& e) -> Status {
        if (e.rel.empty())
          return archive_read_data_skip(in) == ARCHIVE_OK ? Status() : Status(read_error(in));
        std::string dest = (tmp / e.rel).string();
        archive_entry_set_pathname(entry, dest.c_str());
        if (e.type != AE_IFLNK) archive_entry_set_perm(entry, e.mode);
        archive_entry_set_uid(entry, 0);
        archive_entry_set_gid(entry, 0);
        archive_entry_set_uname(entry, nullptr);
        archive_entry_set_gname(entry, nullptr);
        archive_entry_xattr_clear(entry);
        archive_entry_acl_clear(entry);
        archive_entry_set_fflags(entry, 0, 0);
        if (archive_write_header(disk.w, entry) != ARCHIVE_OK) {
          return make_error(Errc::io, "cannot create " + e.rel + ": " + archive_message(disk.w));
        }
        if (e.type == AE_IFREG) {
          if (auto st = copy_data(in, disk.w, e, e.rel); !st) return st;
        } else if (archive_read_data_skip(in) != ARCHIVE_OK) {
          return read_error(in);
        }
        if (archive_write_finish_entry(disk.w) != ARCHIVE_OK) {
          return make_error(Errc::io, "cannot finish " + e.rel + ": " + archive_message(disk.w));
        }
        return {};
      });
  if (!extracted) return fail(extracted.error());
  // The second pass must have seen the same archive as the first.
  if (extracted->entries != checked->entries || extracted->total_bytes != checked->total_bytes) {
    return fail(make_error(Errc::invalid, "the archive changed while it was being unpacked"));
  }
  if (archive_write_close(disk.w) != ARCHIVE_OK) {
    return fail(
        make_error(Errc::io, std::string("cannot finish extraction: ") + archive_message(disk.w)));
  }
  ::chmod(tmp.c_str(), 0755);
  if (auto st = sync_tree(tmp); !st) return fail(st.error());
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) != 0) {
    return fail(make_error(
        Errc::io, "cannot rename into " + final_path.string() + ": " + std::strerror(errno)));
  }
  if (auto st = sync_directory(parent); !st) return st.error();
  return *checked;
}

}  // namespace mesh::updater
