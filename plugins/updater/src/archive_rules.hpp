// The per-entry rules shared by the checking and the extracting pass (internal header).
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <set>
#include <string>
#include <vector>

#include "archive.hpp"

namespace mesh::updater {

// A libarchive reader for tar (any tar flavour), gzip-compressed or not, positioned at the
// start of `file`.
struct ArchiveReader {
  archive* a = nullptr;
  ~ArchiveReader() {
    if (a) archive_read_free(a);
  }
};
Status open_reader(ArchiveReader& r, const OpenFile& file);

// libarchive's message for the last error, or a fallback: archive_error_string may be null.
std::string archive_message(archive* a, const char* fallback = "unknown error");

// What an accepted entry is, relative to the top-level directory.
struct CheckedEntry {
  std::string rel;  // "" for the top-level directory itself, else "bin/mesh"
  int type = 0;     // AE_IFREG, AE_IFDIR or AE_IFLNK
  std::uint64_t size = 0;
  unsigned mode = 0;  // normalised permissions to extract with
};

// Applies the rules to one entry after another; finish() applies those that need the whole
// list (links through links, files used as directories).
class EntryRules {
 public:
  EntryRules(std::string_view top, const ArchiveLimits& limits) : top_(top), limits_(limits) {}

  Result<CheckedEntry> check(archive_entry* entry);
  // `expanded`: bytes out of the decompressor so far.
  Status check_expanded(std::int64_t expanded) const;
  Status finish() const;
  const ArchiveSummary& summary() const { return summary_; }

 private:
  struct Link {
    std::string path;    // relative to top
    std::string target;  // as written in the archive
  };
  Result<std::vector<std::string>> split_path(const char* raw) const;

  std::string top_;
  ArchiveLimits limits_;
  ArchiveSummary summary_;
  std::set<std::string> seen_;
  std::set<std::string> files_;
  std::set<std::string> symlink_paths_;
  std::vector<Link> links_;
};

}  // namespace mesh::updater
