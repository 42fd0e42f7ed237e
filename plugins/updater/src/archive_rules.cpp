#include "archive_rules.hpp"

#include <sys/stat.h>

#include <string_view>

namespace mesh::updater {
namespace {

Error unsafe(const std::string& path, const std::string& why) {
  return make_error(Errc::unsafe_archive, "archive entry '" + path + "': " + why);
}

bool clean_bytes(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  }
  return true;
}

std::string join(const std::vector<std::string>& parts, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n && i < parts.size(); ++i) {
    if (i) s += '/';
    s += parts[i];
  }
  return s;
}

// Every proper prefix of `rel` ("a", "a/b" for "a/b/c").
std::vector<std::string> proper_prefixes(const std::string& rel) {
  std::vector<std::string> out;
  for (std::size_t pos = rel.find('/'); pos != std::string::npos; pos = rel.find('/', pos + 1)) {
    out.push_back(rel.substr(0, pos));
  }
  return out;
}

}  // namespace

std::string archive_message(archive* a, const char* fallback) {
  const char* msg = a ? archive_error_string(a) : nullptr;
  return msg ? msg : fallback;
}

Status open_reader(ArchiveReader& r, const OpenFile& file) {
  if (auto st = file.rewind(); !st) return st;
  r.a = archive_read_new();
  if (!r.a) return make_error(Errc::io, "libarchive: out of memory");
  archive_read_support_filter_gzip(r.a);
  archive_read_support_format_tar(r.a);
  if (archive_read_open_fd(r.a, file.fd(), 64 * 1024) != ARCHIVE_OK) {
    return make_error(Errc::invalid, "not a tar.gz archive: " + archive_message(r.a, "unreadable"));
  }
  return {};
}

Result<std::vector<std::string>> EntryRules::split_path(const char* raw) const {
  if (!raw || !*raw) return unsafe("", "no path");
  std::string_view p(raw);
  // Shown in errors and logs: no control bytes from the archive reach a terminal.
  std::string shown(p.substr(0, 200));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (p.size() > limits_.max_path) return unsafe(shown, "path too long");
  if (!clean_bytes(p)) return unsafe(shown, "control characters or '\\' in the path");
  if (p.front() == '/') return unsafe(shown, "absolute path");
  if (p.starts_with("./")) p.remove_prefix(2);
  if (p.ends_with("/")) p.remove_suffix(1);
  std::vector<std::string> parts;
  while (true) {
    auto slash = p.find('/');
    std::string_view c = p.substr(0, slash);
    if (c.empty() || c == "." || c == "..") return unsafe(shown, "empty, '.' or '..' component");
    if (c.size() > 255) return unsafe(shown, "a path component over 255 bytes");
    parts.emplace_back(c);
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  if (parts.size() > limits_.max_depth) return unsafe(shown, "too deep");
  if (parts[0] != top_) {
    return unsafe(shown, "outside the top-level directory '" + top_ + "/'");
  }
  return parts;
}

Result<CheckedEntry> EntryRules::check(archive_entry* entry) {
  if (++summary_.entries > limits_.max_entries) {
    return make_error(Errc::too_large,
                      "the archive has over " + std::to_string(limits_.max_entries) + " entries");
  }
  auto parts = split_path(archive_entry_pathname(entry));
  if (!parts) return parts.error();
  CheckedEntry out;
  out.rel = join(*parts, parts->size()).substr(top_.size());
  if (!out.rel.empty()) out.rel.erase(0, 1);  // the '/' after top
  const std::string shown = join(*parts, parts->size());
  if (!seen_.insert(out.rel).second) return unsafe(shown, "appears twice");
  if (archive_entry_hardlink(entry)) return unsafe(shown, "hard links are not allowed");
  if (archive_entry_sparse_count(entry) > 0) return unsafe(shown, "sparse files are not allowed");
  out.type = static_cast<int>(archive_entry_filetype(entry));
  unsigned perm = static_cast<unsigned>(archive_entry_perm(entry));
  if (out.type != AE_IFLNK && (perm & (S_ISUID | S_ISGID | S_ISVTX))) {
    return unsafe(shown, "setuid, setgid or sticky mode");
  }
  if (out.type != AE_IFLNK && (perm & S_IWOTH)) return unsafe(shown, "world-writable mode");
  if (out.rel.empty() && out.type != AE_IFDIR)
    return unsafe(shown, "the top level is not a directory");

  switch (out.type) {
    case AE_IFDIR:
      ++summary_.dirs;
      out.mode = 0755;
      break;
    case AE_IFREG: {
      if (!archive_entry_size_is_set(entry) || archive_entry_size(entry) < 0) {
        return unsafe(shown, "no size");
      }
      out.size = static_cast<std::uint64_t>(archive_entry_size(entry));
      if (out.size > limits_.max_entry_bytes) {
        return make_error(Errc::too_large, "archive entry '" + shown + "' declares " +
                                               std::to_string(out.size) +
                                               " bytes, over the limit of " +
                                               std::to_string(limits_.max_entry_bytes));
      }
      summary_.total_bytes += out.size;
      if (summary_.total_bytes > limits_.max_total_bytes) {
        return make_error(Errc::too_large, "the archive unpacks to over " +
                                               std::to_string(limits_.max_total_bytes) + " bytes");
      }
      ++summary_.files;
      files_.insert(out.rel);
      out.mode = (perm & 0111) ? 0755 : 0644;
      break;
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(entry);
      std::string_view t = target ? target : "";
      if (t.empty()) return unsafe(shown, "a symlink without a target");
      if (t.size() > limits_.max_path || !clean_bytes(t)) {
        return unsafe(shown, "a symlink target too long or with control characters");
      }
      if (t.front() == '/')
        return unsafe(shown, "a symlink to an absolute path (" + std::string(t) + ")");
      ++summary_.symlinks;
      symlink_paths_.insert(out.rel);
      links_.push_back({out.rel, std::string(t)});
      break;
    }
    default:
      return unsafe(shown, "only regular files, directories and symlinks are allowed");
  }
  return out;
}

Status EntryRules::check_expanded(std::int64_t expanded) const {
  // Headers and padding cost at most a few KiB per entry; anything beyond is not file data.
  std::uint64_t allowed = limits_.max_total_bytes + 8192ull * (summary_.entries + 1);
  if (expanded > 0 && static_cast<std::uint64_t>(expanded) > allowed) {
    return make_error(Errc::too_large, "the archive expands to over " + std::to_string(allowed) +
                                           " bytes (a compression bomb?)");
  }
  return {};
}

Status EntryRules::finish() const {
  // Nothing may be written through a symlink, and no file may stand where a directory is.
  for (const auto& rel : seen_) {
    for (const auto& prefix : proper_prefixes(rel)) {
      if (symlink_paths_.count(prefix)) {
        return unsafe(top_ + "/" + rel, "lies under the symlink '" + prefix + "'");
      }
      if (files_.count(prefix))
        return unsafe(top_ + "/" + rel, "lies under the file '" + prefix + "'");
    }
  }
  // Links resolve lexically inside the tree. That matches what the kernel does only because
  // no component they pass through is itself a symlink, so that is refused too.
  for (const auto& link : links_) {
    std::vector<std::string> stack;
    for (const auto& p : proper_prefixes(link.path)) stack.push_back(p.substr(p.rfind('/') + 1));
    std::string_view t = link.target;
    std::string shown = top_ + "/" + link.path + " -> " + link.target;
    while (!t.empty()) {
      auto slash = t.find('/');
      std::string_view c = t.substr(0, slash);
      t = slash == std::string_view::npos ? std::string_view() : t.substr(slash + 1);
      if (c.empty() || c == ".") continue;
      std::string here = join(stack, stack.size());
      if (!stack.empty() && symlink_paths_.count(here)) {
        return unsafe(shown, "passes through the symlink '" + here + "'");
      }
      if (c == "..") {
        if (stack.empty()) return unsafe(shown, "points outside the tree");
        stack.pop_back();
      } else {
        stack.emplace_back(c);
      }
    }
  }
  return {};
}

}  // namespace mesh::updater
