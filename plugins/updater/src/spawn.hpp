// Starts the update watchdog outside the daemon: detached (double fork, its own session, no
// controlling terminal), with none of the daemon's descriptors (listening sockets, the control
// socket, log files), stdin from /dev/null and output appended to a log file. argv only, no
// shell.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "errors.hpp"

namespace mesh::updater {

// The watchdog's pid (reparented away from the daemon), or why it could not be started.
Result<int> spawn_detached(const std::vector<std::string>& argv,
                           const std::filesystem::path& output);

// Under systemd a detached child is still in the daemon's unit, which systemd cleans up when
// the daemon exits: the watchdog must run in a unit of its own (systemd-run), and restart the
// daemon's unit with systemctl.
struct SystemdUnit {
  std::string name;  // "mesh.service"
  bool user = true;  // a user manager's unit (systemctl --user)
};
// From the text of /proc/self/cgroup, when the process runs as a systemd service (systemd sets
// INVOCATION_ID for them).
std::optional<SystemdUnit> systemd_unit(std::string_view proc_self_cgroup, bool invocation_id);
std::optional<SystemdUnit> current_systemd_unit();
// systemd-run [--user] --collect --unit=<unit_name> ... -- argv: returns once the transient
// unit runs (its output appended to `output`).
Status spawn_transient(const SystemdUnit& manager, const std::string& unit_name,
                       const std::vector<std::string>& argv, const std::filesystem::path& output);

}  // namespace mesh::updater
