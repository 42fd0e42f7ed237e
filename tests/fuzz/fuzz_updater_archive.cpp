// libFuzzer target: the archive checks on arbitrary (tar or tar.gz) bytes. Nothing is
// extracted; the checker must never crash, and what it accepts stays within its limits.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include "archive.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mesh::updater;
  int fd = ::memfd_create("fuzz-archive", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (::write(fd, data, size) != static_cast<ssize_t>(size)) {
    ::close(fd);
    return 0;
  }
  OpenFile file(fd);
  ArchiveLimits limits;
  limits.max_entries = 64;
  limits.max_total_bytes = 1 << 20;
  if (auto summary = check_archive(file, "top", limits)) {
    check(summary->entries >= 1 && summary->entries <= limits.max_entries);
    check(summary->total_bytes <= limits.max_total_bytes);
    check(summary->files + summary->dirs + summary->symlinks == summary->entries);
  }
  return 0;
}
