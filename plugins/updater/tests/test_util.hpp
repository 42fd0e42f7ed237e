// Helpers for the updater's tests: temporary directories, running a program (argv, no shell),
// throwaway minisign keys made by the real minisign binary, and tar.gz archives written byte by
// byte, so that hostile entries are exactly what the test says.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mesh::updater::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs argv[0] (a path or a name looked up in PATH) with stdin from /dev/null.
RunResult run(const std::vector<std::string>& argv,
              const std::filesystem::path& cwd = std::filesystem::path());

void write_file(const std::filesystem::path& path, const std::string& content);
std::string read_file(const std::filesystem::path& path);

// A minisign key pair without a password, made with `minisign -G -W`.
struct TestKey {
  std::filesystem::path pub;
  std::filesystem::path sec;
  std::string pub_text;  // the whole public key file
};
TestKey make_key(const std::filesystem::path& dir, const std::string& name = "key");
// `minisign -S -s KEY -m FILE [-l]`: writes FILE.minisig (or `out`), returns its text.
std::string sign(const TestKey& key, const std::filesystem::path& file, bool legacy = false,
                 const std::filesystem::path& out = std::filesystem::path());

// One tar entry as written into the archive, unchecked.
struct TarEntry {
  std::string path;
  char type = '0';  // '0' file, '5' directory, '2' symlink, '1' hard link, '3' char device
  unsigned mode = 0644;
  std::string data;            // file content
  std::string link;            // symlink or hard link target
  std::int64_t declared = -1;  // size written in the header; -1: data.size()
};
// A ustar archive of `entries` (long paths get a pax header), then two zero blocks.
std::string make_tar(const std::vector<TarEntry>& entries);
std::string gzip(const std::string& data);
// One pax extended-header record: "<len> key=value\n".
std::string pax_record(const std::string& key, const std::string& value);
// make_tar + gzip into `path`.
void write_tar_gz(const std::filesystem::path& path, const std::vector<TarEntry>& entries);

// Random bytes of `n` (libsodium), for archive contents that do not compress.
std::string random_bytes(std::size_t n);

}  // namespace mesh::updater::test
