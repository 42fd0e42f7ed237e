// Reads the command list at the start of a receive-pack request body as it streams past:
// pkt-lines "<old> <new> <ref>" (the first with "\0<capabilities>") up to a flush packet, then
// the pack. Holds at most one packet at a time and at most kMaxSniffedCommands commands.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mesh::repl {

inline constexpr std::size_t kMaxSniffedCommands = 1000;

struct PushCommand {
  std::string old_oid, new_oid, ref;
};

class CommandSniffer {
 public:
  void feed(std::string_view d);
  // 0: none, 1: side-band (1000-byte packets), 2: side-band-64k.
  int sideband() const { return sideband_; }
  // The request carried at least one ref command (a probe or an empty push carries none).
  bool commands() const { return !commands_.empty() || more_; }
  // The client asked for a report (report-status or report-status-v2).
  bool report_status() const { return report_; }
  // The commands seen (the first kMaxSniffedCommands; more_ says there were others).
  const std::vector<PushCommand>& list() const { return commands_; }
  // The flush after the commands was seen (or the request was not a command list at all).
  bool done() const { return done_; }

 private:
  void packet(std::string_view payload);

  std::string header_, line_;
  std::size_t need_ = 0;
  bool done_ = false;
  bool first_ = true;
  bool more_ = false;
  bool report_ = false;
  int sideband_ = 0;
  std::vector<PushCommand> commands_;
};

}  // namespace mesh::repl
