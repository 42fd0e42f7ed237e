// `mesh ci ...` (docs/cli.md): status, run, logs, cancel, runners, each with --json. Exit codes
// as every mesh command: 0 success, 1 failure (the host prefixes "error: "), 2 usage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "logs.hpp"
#include "originator.hpp"
#include "shared.hpp"

namespace mesh::ci {

struct CliOut {
  int code = 0;
  std::string output;
  bool pending = false;  // a --follow: answered later through Env::cli_respond
};

class CiCli {
 public:
  CiCli(Shared& s, Originator& o, LiveLogs& live, Followers& f)
      : s_(s), o_(o), live_(live), follow_(f) {}
  // (lock not held)
  CliOut run(std::uint64_t call, const std::vector<std::string>& args, bool json);

  static const char* usage();

 private:
  CliOut status(const std::vector<std::string>& args, bool json);
  CliOut start(const std::vector<std::string>& args, bool json);
  CliOut logs(std::uint64_t call, const std::vector<std::string>& args, bool json);
  CliOut cancel(const std::vector<std::string>& args, bool json);
  CliOut runners(const std::vector<std::string>& args, bool json);
  // (lock held) The one run `prefix` names (in `repo` when given), or an error.
  Result<const RunState*> pick(const std::string& prefix, const std::string& repo);

  Shared& s_;
  Originator& o_;
  LiveLogs& live_;
  Followers& follow_;
};

}  // namespace mesh::ci
