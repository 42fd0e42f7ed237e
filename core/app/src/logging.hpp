#pragma once

#include <filesystem>

#include "mesh/base/result.hpp"
#include "mesh/config/config.hpp"

namespace mesh::app {

// Installs the daemon's logger (the one global the app owns): a size-rotated file under
// <root>/logs, plus stderr when running in the foreground.
Status setup_logging(const std::filesystem::path& log_file, const config::LogConfig& cfg,
                     bool to_stderr);
void set_log_level(const std::string& level);
// An error for the log file only (not stderr): for messages the caller prints itself, so a
// foreground start-up failure appears once. Nothing before setup_logging ran.
void log_error_to_file(const std::string& message);

}  // namespace mesh::app
