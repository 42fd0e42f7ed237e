// The per-job scratch directory a runner keeps outside the worktree (<data>/jobs/<id>/): the
// job script and, for containers, the env file. Created 0700, files 0600, removed when the job
// ends and, for anything a crash left, when the runner starts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace mesh::runner {

class JobFiles {
 public:
  // Removes what earlier runs left under <data_dir>/jobs and makes the directory.
  static bool prepare_root(const std::filesystem::path& data_dir, std::string* error);

  JobFiles(const std::filesystem::path& data_dir, std::uint64_t job_id);
  ~JobFiles();  // removes the directory
  JobFiles(const JobFiles&) = delete;
  JobFiles& operator=(const JobFiles&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  const std::filesystem::path& dir() const { return dir_; }
  // Writes dir/name with mode 0600; false (and error()) on failure.
  bool write(std::string_view name, std::string_view content);

 private:
  std::filesystem::path dir_;
  bool ok_ = false;
  std::string error_;
};

}  // namespace mesh::runner
